/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An OSTree static-delta superblock (the envelope's payload) and the to-commit it
 * carries: mu_superblock_check(), mu_delta_info_new() (checksums, commit metadata and its
 * bindings, the part headers and their sizes, fallbacks) and, for a commit with detached
 * ed25519 signatures, mu_delta_info_verify_commit_signature() against keys-example's key.
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-delta.h"
#include "mu-signed-delta.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = NULL;
	guint64 compressed = 0;
	guint64 uncompressed = 0;

	if (!mu_superblock_check (bytes, &error))
		g_assert_nonnull (error);
	g_clear_error (&error);

	info = mu_delta_info_new (bytes, &error);
	if (info == NULL) {
		g_assert_nonnull (error);
		return 0;
	}
	g_assert_nonnull (info->to_commit);
	g_assert_nonnull (info->commit);
	g_assert_cmpuint (g_strv_length (info->part_checksums), ==, info->n_parts);
	for (guint i = 0; i < info->n_parts; i++) {
		compressed += info->part_compressed[i];
		uncompressed += info->part_uncompressed[i];
	}
	g_assert_cmpuint (compressed, ==, info->total_compressed);
	g_assert_cmpuint (uncompressed, ==, info->total_uncompressed);
	if (!mu_delta_info_verify_commit_signature (info, mu_fuzz_get_keyring (), &error))
		g_assert_nonnull (error);
	return 0;
}
