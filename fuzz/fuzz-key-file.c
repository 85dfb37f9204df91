/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A device's LUKS key files: the first line of the input is the file's name, the rest its
 * contents. The key id a name gives (mu_key_id_from_file_name()), the key made of the
 * contents (mu_key_new(), its length bounds), and the seal that a systemd-creds file's
 * contents show (mu_credential_seal_from_bytes()).
 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "mu-credentials.h"
#include "mu-key.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autofree gchar *name = NULL;
	g_autoptr (GBytes) contents = mu_fuzz_split_line (data, size, &name);
	g_autofree gchar *id = mu_key_id_from_file_name (name);
	g_autoptr (MuKey) key = NULL;
	g_autoptr (GError) error = NULL;
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data (contents, &len);

	if (id != NULL)
		g_assert_true (mu_key_id_is_valid (id));
	key = mu_key_new (id != NULL ? id : "fuzz", bytes != NULL ? bytes : (const guint8 *) "",
			  len, &error);
	if (key == NULL) {
		g_assert_nonnull (error);
	} else {
		g_assert_cmpuint (key->len, ==, len);
		g_assert_true (memcmp (key->data, bytes, len) == 0);
	}
	(void) mu_credential_seal_to_string (mu_credential_seal_from_bytes (contents));
	return 0;
}
