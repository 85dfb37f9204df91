/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The signed header of a format-2 bundle, as the bytes its signatures cover (the GVariant
 * MU_SIGNED_HEADER_FORMAT): mu_signed_header_parse() and its field checks. Whatever it
 * accepts must be canonical, so serializing it again gives the same bytes.
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-signed-header.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedHeader) header = mu_signed_header_parse (bytes, &error);
	g_autoptr (GBytes) again = NULL;

	if (header == NULL) {
		g_assert_nonnull (error);
		return 0;
	}
	g_assert_no_error (error);
	again = mu_signed_header_serialize (header, &error);
	g_assert_no_error (error);
	g_assert_true (g_bytes_equal (bytes, again));
	(void) mu_signed_header_hash_tree_size (header);
	return 0;
}
