/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "mediaupd-signed" LUKS2 token of a format-2 bundle, as the JSON text libcryptsetup
 * hands over: mu_signed_token_parse_json(), then what inspect shows
 * (mu_signed_token_peek_header()) and what the device does (mu_signed_token_verify()
 * against keys-example's key; the seeds are signed with it, so a mutated header behind a
 * good signature is not needed to reach the header checks after it).
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-signed-header.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autofree gchar *json = mu_fuzz_strndup (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedToken) token = mu_signed_token_parse_json (json, &error);
	g_autoptr (MuSignedHeader) peeked = NULL;
	g_autoptr (MuSignedHeader) verified = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;

	if (token == NULL) {
		g_assert_nonnull (error);
		return 0;
	}
	g_assert_cmpuint (mu_signed_token_get_n_signatures (token), <=,
			  MU_SIGNED_HEADER_MAX_SIGNATURES);
	g_assert_nonnull (mu_signed_token_get_header_bytes (token));
	peeked = mu_signed_token_peek_header (token, &error);
	g_clear_error (&error);
	verified = mu_signed_token_verify (token, mu_fuzz_get_keyring (), &signer, &error);
	if (verified != NULL) {
		g_assert_no_error (error);
		g_assert_nonnull (signer);
		g_assert_nonnull (peeked);
	}
	return 0;
}
