/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The signed-delta envelope (delta/superblock on the stick, OSTree's (taya{sv}) with
 * magic OSTSGNDT): mu_signed_delta_parse() and its signatures, mu_superblock_check() of
 * the payload, and mu_signed_delta_verify_bytes() against keys-example's key as the verify
 * phase calls it. A payload behind a good signature goes on to mu_delta_info_new(), as
 * it does on the device.
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-bundle-format.h"
#include "mu-delta.h"
#include "mu-signed-delta.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedDelta) delta = mu_signed_delta_parse (bytes, &error);
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;
	g_autoptr (MuDeltaInfo) info = NULL;
	guint n;

	if (delta == NULL) {
		g_assert_nonnull (error);
	} else {
		n = mu_signed_delta_get_n_signatures (delta);
		g_assert_cmpuint (n, <=, MU_SIGNED_DELTA_MAX_SIGNATURES);
		for (guint i = 0; i < n; i++)
			g_assert_cmpuint (g_bytes_get_size (
						  mu_signed_delta_get_signature (delta, i)),
					  ==, MU_ED25519_SIGNATURE_LEN);
		if (!mu_superblock_check (mu_signed_delta_get_superblock (delta), &error))
			g_assert_nonnull (error);
	}
	g_clear_error (&error);

	if (!mu_signed_delta_verify_bytes (bytes, mu_fuzz_get_keyring (), &superblock, &signer,
					   &error)) {
		g_assert_nonnull (error);
		return 0;
	}
	g_assert_nonnull (delta);
	g_assert_nonnull (signer);
	info = mu_delta_info_new (superblock, &error);
	return 0;
}
