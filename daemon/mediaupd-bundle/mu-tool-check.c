/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-key.h"
#include "mu-keyring.h"
#include "mu-signed-delta.h"
#include "mu-tool-check.h"
#include "mu-tool-crypt.h"
#include "mu-tool-luks2.h"

/* Each key opens exactly its own slot, and that slot yields the volume key. */
gboolean
mu_tool_check_keys (const gchar *path, GPtrArray *keys, const gint *slots,
		    const MuSecret *volume_key, GError **error)
{
	g_autoptr (MuCryptDevice) cd = mu_tool_luks2_load (path, error);
	g_autoptr (MuSecret) got = mu_secret_new (MU_TOOL_MAX_KEY_LEN);

	if (cd == NULL)
		return FALSE;
	for (guint i = 0; i < keys->len; i++) {
		const MuKey *key = g_ptr_array_index (keys, i);

		for (guint j = 0; j < keys->len; j++) {
			size_t len = got->len;
			int r = crypt_volume_key_get (cd, slots[j], (char *) got->data, &len,
						      (const char *) key->data, key->len);

			if (i == j && (r != slots[j] || len != volume_key->len ||
				       memcmp (got->data, volume_key->data, len) != 0)) {
				g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
					     "self-check: the key '%s' does not open its keyslot %d "
					     "to the volume key",
					     key->id, slots[j]);
				return FALSE;
			}
			if (i != j && r >= 0) {
				g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
					     "self-check: the key '%s' also opens keyslot %d",
					     key->id, slots[j]);
				return FALSE;
			}
		}
	}
	return TRUE;
}

/* The signed token and the envelope verify with each signing key alone, and the header
 * matches the LUKS2 header and the file's size. */
gboolean
mu_tool_check_signatures (const gchar *path, GPtrArray *signing_keys, GBytes *signed_superblock,
			  guint64 file_size, MuSignedHeader **ret_header, GError **error)
{
	g_autoptr (MuCryptDevice) cd = mu_tool_luks2_load (path, error);
	g_autoptr (JsonNode) dump = NULL;
	g_autofree gchar *dump_text = NULL;
	g_autoptr (MuSignedToken) token = NULL;
	g_autoptr (MuSignedHeader) header = NULL;
	const char *token_json = NULL;
	gint token_id;

	if (cd == NULL || !mu_tool_luks2_dump (cd, &dump_text, &dump, error))
		return FALSE;
	token_id = mu_tool_luks2_find_token (dump, MU_BUNDLE_SIGNED_TOKEN_TYPE);
	if (token_id < 0 || crypt_token_json_get (cd, token_id, &token_json) < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "self-check: the bundle has no " MU_BUNDLE_SIGNED_TOKEN_TYPE " token");
		return FALSE;
	}
	token = mu_signed_token_parse_json (token_json, error);
	if (token == NULL)
		return FALSE;
	for (guint i = 0; i < signing_keys->len; i++) {
		MuEd25519Key *pub = mu_ed25519_secret_key_get_public (signing_keys->pdata[i]);
		g_autoptr (MuKeyring) keyring = mu_keyring_new ();
		g_autoptr (MuEd25519Key) used = NULL;
		g_autoptr (GBytes) inner = NULL;

		mu_keyring_add_trusted_key (keyring, pub);
		g_clear_pointer (&header, mu_signed_header_free);
		header = mu_signed_token_verify (token, keyring, &used, error);
		if (header == NULL) {
			g_prefix_error (error, "self-check: the signed header with the key %s: ",
					mu_ed25519_key_get_id (pub));
			return FALSE;
		}
		g_clear_pointer (&used, mu_ed25519_key_unref);
		if (!mu_signed_delta_verify_bytes (signed_superblock, keyring, &inner, &used,
						   error)) {
			g_prefix_error (error, "self-check: the delta envelope with the key %s: ",
					mu_ed25519_key_get_id (pub));
			return FALSE;
		}
	}
	if (!mu_signed_header_check_luks (header, dump_text, file_size, error)) {
		g_prefix_error (error, "self-check: ");
		return FALSE;
	}
	*ret_header = g_steal_pointer (&header);
	return TRUE;
}
