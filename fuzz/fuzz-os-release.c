/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An os-release(5) file, as read from the tree a bundle brings: mu_os_release_parse()
 * (quoting, escapes, comments, repeated keys, the ID and VARIANT_ID it keeps).
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-os-release.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuOsRelease) os = mu_os_release_parse (bytes, &error);

	if (os == NULL) {
		g_assert_nonnull (error);
		return 0;
	}
	g_assert_no_error (error);
	if (os->id != NULL)
		g_assert_true (g_utf8_validate (os->id, -1, NULL));
	if (os->variant_id != NULL)
		g_assert_true (g_utf8_validate (os->variant_id, -1, NULL));
	return 0;
}
