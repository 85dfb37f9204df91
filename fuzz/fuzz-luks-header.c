/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bundle's LUKS2 header as the engine sees it: the JSON metadata of crypt_dump_json().
 * The checks of mu-bundle.c (ciphers and key sizes of every keyslot and the segment), the
 * data segment of mu-luks.c, each token the way mu-bundle.c reads them (a
 * "mediaupd-keyid" token's key id, a "mediaupd-signed" token's header), and for a
 * signed header the comparison of the live header with it (mu_signed_header_check_luks()).
 * The input's first bytes also go through the LUKS magic sniffer of the discover phase.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "fuzz-common.h"
#include "mu-bundle-format.h"
#include "mu-bundle.h"
#include "mu-json.h"
#include "mu-luks.h"
#include "mu-signed-header.h"

static void
check_signed_token (const gchar *token_json, const gchar *luks_json)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedToken) token = mu_signed_token_parse_json (token_json, &error);
	g_autoptr (MuSignedHeader) header = NULL;
	guint64 file_size;

	if (token == NULL)
		return;
	header = mu_signed_token_peek_header (token, &error);
	if (header == NULL)
		return;
	file_size = header->hash_offset + mu_signed_header_hash_tree_size (header);
	if (mu_signed_header_check_luks (header, luks_json, file_size, &error))
		g_assert_no_error (error);
	else
		g_assert_nonnull (error);
	g_clear_error (&error);
	/* The same header against a file of another size. */
	g_assert_false (mu_signed_header_check_luks (header, luks_json, file_size + 1, &error));
}

static void
check_tokens (const gchar *luks_json)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	g_autoptr (GList) members = NULL;
	JsonNode *root;
	JsonNode *node;
	JsonObject *tokens;

	if (!mu_json_parser_load_text (parser, luks_json, -1, NULL) ||
	    (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
		return;
	node = json_object_get_member (json_node_get_object (root), "tokens");
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
		return;
	tokens = json_node_get_object (node);
	members = json_object_get_members (tokens);
	for (GList *l = members; l != NULL; l = l->next) {
		JsonNode *token = json_object_get_member (tokens, l->data);
		g_autofree gchar *text = NULL;
		const gchar *type;

		if (!JSON_NODE_HOLDS_OBJECT (token))
			continue;
		type = mu_json_object_get_string (json_node_get_object (token), "type");
		text = json_to_string (token, FALSE);
		if (g_strcmp0 (type, MU_BUNDLE_TOKEN_TYPE) == 0) {
			g_autoptr (GBytes) bytes = g_bytes_new (text, strlen (text));
			g_autoptr (GError) error = NULL;
			g_autofree gchar *key_id = NULL;

			if (mu_bundle_parse_keyid_token (bytes, &key_id, &error))
				g_assert_true (mu_key_id_is_valid (key_id));
			else
				g_assert_nonnull (error);
		} else if (g_strcmp0 (type, MU_BUNDLE_SIGNED_TOKEN_TYPE) == 0) {
			check_signed_token (text, luks_json);
		}
	}
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	static const gchar *const extra_ciphers[] = { "serpent-xts-plain64",
						      "xchacha12,aes-adiantum-plain64", NULL };
	g_autofree gchar *json = mu_fuzz_strndup (data, size);
	g_autoptr (GBytes) bytes = g_bytes_new (json, strlen (json));
	g_autoptr (GBytes) head = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	guint64 offset = 0;
	guint64 segment_size = 0;

	(void) mu_luks_sniff (head);
	if (!mu_bundle_check_encryption (bytes, MU_BUNDLE_KEY_BYTES, NULL, &error))
		g_assert_nonnull (error);
	g_clear_error (&error);
	if (!mu_bundle_check_encryption (bytes, 32, extra_ciphers, &error))
		g_assert_nonnull (error);
	g_clear_error (&error);
	if (!mu_luks_parse_segment (bytes, &offset, &segment_size, &error))
		g_assert_nonnull (error);
	g_clear_error (&error);
	check_tokens (json);
	return 0;
}
