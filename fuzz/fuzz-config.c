/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mediaupd.conf: mu_config_new_from_bytes(), the strict GKeyFile reading (unknown groups
 * and keys, duplicates, every value's type and range). The file is the integrator's, not
 * the stick's, but it decides which keys, ciphers and formats a stick may use.
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-config.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = mu_config_new_from_bytes (bytes, "fuzz.conf", &error);

	if (config == NULL) {
		g_assert_nonnull (error);
		return 0;
	}
	g_assert_no_error (error);
	g_assert_nonnull (config->key_dirs);
	g_assert_nonnull (config->bundle_names);
	g_assert_nonnull (config->sysroot);
	return 0;
}
