/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-json.h"
#include "mu-keyring.h"
#include "mu-signed-header.h"
#include "mu-tool-container.h"
#include "mu-tool-inspect.h"
#include "mu-tool-luks2.h"
#include "mu-tool.h"

/* What inspect found in a v2 bundle. */
typedef struct {
	const gchar *path;
	MuCryptDevice *cd;
	gchar *dump_text;
	JsonNode *dump;
	GPtrArray *slots; /* MuToolKeyslot* */
	guint64 file_size;
	MuSignedToken *token;
	MuSignedHeader *header; /* as claimed (peeked), or the verified one */
	GError *header_error;   /* the token or header does not parse */
	gboolean checked;       /* --trusted given */
	gboolean verified;
	MuEd25519Key *signer;
	GError *verify_error;
	GError *luks_error; /* the live header differs from the signed one */
	MuKey *key;         /* --key */
	gint key_slot;      /* the slot it opens, or -1 */
} InspectV2;

static void
inspect_v2_clear (InspectV2 *v)
{
	g_clear_pointer (&v->cd, crypt_free);
	g_clear_pointer (&v->dump_text, g_free);
	g_clear_pointer (&v->dump, json_node_unref);
	g_clear_pointer (&v->slots, g_ptr_array_unref);
	g_clear_pointer (&v->token, mu_signed_token_free);
	g_clear_pointer (&v->header, mu_signed_header_free);
	g_clear_error (&v->header_error);
	g_clear_pointer (&v->signer, mu_ed25519_key_unref);
	g_clear_error (&v->verify_error);
	g_clear_error (&v->luks_error);
	g_clear_pointer (&v->key, mu_key_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (InspectV2, inspect_v2_clear)

gboolean
mu_tool_inspect_is_v2 (const gchar *path)
{
	g_autoptr (MuCryptDevice) cd = mu_tool_luks2_load (path, NULL);

	return cd != NULL && g_strcmp0 (crypt_get_label (cd), MU_BUNDLE_LUKS_LABEL) == 0 &&
	       g_strcmp0 (crypt_get_subsystem (cd), MU_BUNDLE_LUKS_SUBSYSTEM_V2) == 0;
}

static gboolean
load_token (InspectV2 *v, GError **error)
{
	const char *json = NULL;
	gint id = mu_tool_luks2_find_token (v->dump, MU_BUNDLE_SIGNED_TOKEN_TYPE);

	if (id < 0 || crypt_token_json_get (v->cd, id, &json) < 0) {
		g_set_error (&v->header_error, MU_ERROR, MU_ERROR_UNSIGNED,
			     "the bundle has no " MU_BUNDLE_SIGNED_TOKEN_TYPE " token");
		return TRUE;
	}
	v->token = mu_signed_token_parse_json (json, &v->header_error);
	if (v->token == NULL)
		return TRUE;
	v->header = mu_signed_token_peek_header (v->token, &v->header_error);
	if (v->header != NULL &&
	    !mu_signed_header_check_luks (v->header, v->dump_text, v->file_size, &v->luks_error))
		g_assert (v->luks_error != NULL);
	return TRUE;
}

static gboolean
check_trust (InspectV2 *v, gchar **trusted, GError **error)
{
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();
	g_autoptr (MuSignedHeader) header = NULL;

	if (trusted == NULL)
		return TRUE;
	for (guint i = 0; trusted[i] != NULL; i++) {
		if (!mu_keyring_load_trusted (keyring, trusted[i], error)) {
			g_prefix_error (error, "--trusted: ");
			return FALSE;
		}
	}
	v->checked = TRUE;
	if (v->token == NULL) {
		v->verify_error = g_error_copy (v->header_error);
		return TRUE;
	}
	header = mu_signed_token_verify (v->token, keyring, &v->signer, &v->verify_error);
	if (header == NULL)
		return TRUE;
	v->verified = TRUE;
	g_clear_pointer (&v->header, mu_signed_header_free);
	v->header = g_steal_pointer (&header);
	return TRUE;
}

static gboolean
open_v2 (InspectV2 *v, const gchar *key_path, gchar **trusted, GError **error)
{
	GStatBuf st;

	if (key_path != NULL) {
		v->key = mu_key_load_file (key_path, MU_KEY_LOAD_NONE, error);
		if (v->key == NULL)
			return FALSE;
	}
	v->cd = mu_tool_luks2_load (v->path, error);
	if (v->cd == NULL || !mu_tool_luks2_dump (v->cd, &v->dump_text, &v->dump, error))
		return FALSE;
	if (g_stat (v->path, &st) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot stat '%s'", v->path);
		return FALSE;
	}
	v->file_size = (guint64) st.st_size;
	v->slots = mu_tool_luks2_list_keyslots (v->dump, error);
	if (v->slots == NULL || !load_token (v, error) || !check_trust (v, trusted, error))
		return FALSE;
	v->key_slot = -1;
	if (v->key != NULL) {
		/* Check only: no name, nothing is activated. */
		int r = crypt_activate_by_passphrase (v->cd, NULL, CRYPT_ANY_SLOT,
						      (const char *) v->key->data, v->key->len, 0);

		v->key_slot = r >= 0 ? r : -1;
	}
	return TRUE;
}

static gchar *
slot_pbkdf_text (const MuToolKeyslot *ks)
{
	if (ks->pbkdf_hash != NULL)
		return g_strdup_printf ("%s-%s, %u iterations", ks->pbkdf_type, ks->pbkdf_hash,
					ks->pbkdf_iterations);
	return g_strdup_printf ("%s, time cost %u, %u KiB, %u thread(s)", ks->pbkdf_type,
				ks->pbkdf_iterations, ks->pbkdf_memory_kib, ks->pbkdf_parallel);
}

/* Everything but the numbers comes from the file: escaped before it is shown. */
#define E(s) mu_escape_untrusted_in (pool, (s))

static void
print_header_text (GPtrArray *pool, const MuSignedHeader *h)
{
	g_autoptr (GDateTime) when = g_date_time_new_from_unix_utc ((gint64) h->timestamp);
	g_autofree gchar *when_text = when != NULL ? g_date_time_format_iso8601 (when) : NULL;
	g_autofree gchar *root = mu_tool_hex (h->root_hash);
	g_autofree gchar *bindings = g_strjoinv (", ", h->ref_bindings);

	g_print ("OS:          %s%s%s\n", h->os_id[0] != '\0' ? E (h->os_id) : "(no ID)",
		 h->os_variant_id[0] != '\0' ? " variant " : "", E (h->os_variant_id));
	g_print ("Ref:         %s\n", E (h->ref));
	if (h->collection_binding[0] != '\0' || h->ref_bindings[0] != NULL)
		g_print ("Bindings:    collection '%s', refs %s\n", E (h->collection_binding),
			 E (bindings));
	g_print ("Version:     %s\n", h->version[0] != '\0' ? E (h->version) : "(none)");
	g_print ("From:        %s\n",
		 h->from_commit[0] != '\0' ? E (h->from_commit) : "(none: full update)");
	g_print ("To:          %s\n", E (h->to_commit));
	g_print ("Timestamp:   %s (%" G_GUINT64_FORMAT ")\n", when_text != NULL ? when_text : "?",
		 h->timestamp);
	g_print ("Delta:       %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " uncompressed\n",
		 h->total_compressed, h->total_uncompressed);
	g_print ("Data:        %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
		 ", %s, %u-bit key, %u-byte sectors\n",
		 h->data_size, h->data_offset, E (h->cipher), h->key_size * 8, h->sector_size);
	g_print ("Verity:      %s, hash tree at %" G_GUINT64_FORMAT ", root %s\n",
		 E (h->verity_hash), h->hash_offset, root);
}

static void
print_text (const InspectV2 *v)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_print ("Bundle:      %s\n", E (v->path));
	g_print ("Format:      mediaupd bundle v2 (label '%s', subsystem '%s')\n",
		 E (crypt_get_label (v->cd)), E (crypt_get_subsystem (v->cd)));
	g_print ("UUID:        %s\n", E (crypt_get_uuid (v->cd)));
	if (v->header == NULL) {
		g_print ("Header:      unreadable: %s\n", E (v->header_error->message));
	} else {
		g_print ("Header:      %u signature(s); %s\n",
			 mu_signed_token_get_n_signatures (v->token),
			 v->luks_error == NULL ? "matches the LUKS2 header"
					       : E (v->luks_error->message));
		print_header_text (pool, v->header);
	}
	if (v->checked && v->verified)
		g_print ("Verified:    yes, by trusted key %s\n",
			 mu_ed25519_key_get_id (v->signer));
	else if (v->checked)
		g_print ("Verified:    NO: %s\n", E (v->verify_error->message));
	else
		g_print ("Verified:    not checked (give --trusted FILE)\n");
	g_print ("Keyslots:    %u\n", v->slots->len);
	for (guint i = 0; i < v->slots->len; i++) {
		const MuToolKeyslot *ks = g_ptr_array_index (v->slots, i);
		g_autofree gchar *pbkdf = slot_pbkdf_text (ks);

		if (ks->key_id != NULL)
			g_print ("  %2d: key id '%s'; %s\n", ks->slot, E (ks->key_id), E (pbkdf));
		else
			g_print ("  %2d: no key id; %s\n", ks->slot, E (pbkdf));
	}
	if (v->key != NULL && v->key_slot >= 0)
		g_print ("Key '%s' opens keyslot %d\n", E (v->key->id), v->key_slot);
}

static void
add_text (JsonBuilder *b, const gchar *name, const gchar *value)
{
	mu_json_builder_add_text_member (b, name, value);
}

static void
add_error (JsonBuilder *b, const gchar *name, const GError *error)
{
	json_builder_set_member_name (b, name);
	if (error == NULL) {
		json_builder_add_null_value (b);
		return;
	}
	json_builder_begin_object (b);
	add_text (b, "name",
		  error->domain == MU_ERROR ? mu_error_code_to_name (error->code) : "Failed");
	add_text (b, "message", error->message);
	json_builder_end_object (b);
}

static void
add_header_json (JsonBuilder *b, const MuSignedHeader *h)
{
	g_autofree gchar *root = mu_tool_hex (h->root_hash);
	g_autofree gchar *salt = mu_tool_hex (h->verity_salt);

	json_builder_set_member_name (b, "header");
	json_builder_begin_object (b);
	add_text (b, "os_id", h->os_id);
	add_text (b, "os_variant_id", h->os_variant_id);
	add_text (b, "ref", h->ref);
	add_text (b, "collection_binding", h->collection_binding);
	json_builder_set_member_name (b, "ref_bindings");
	json_builder_begin_array (b);
	for (guint i = 0; h->ref_bindings[i] != NULL; i++) {
		g_autofree gchar *text = mu_escape_untrusted (h->ref_bindings[i]);

		json_builder_add_string_value (b, text);
	}
	json_builder_end_array (b);
	add_text (b, "version", h->version);
	add_text (b, "from_commit", h->from_commit);
	add_text (b, "to_commit", h->to_commit);
	mu_json_builder_add_int_member (b, "timestamp", (gint64) h->timestamp);
	mu_json_builder_add_int_member (b, "total_compressed", (gint64) h->total_compressed);
	mu_json_builder_add_int_member (b, "total_uncompressed", (gint64) h->total_uncompressed);
	mu_json_builder_add_int_member (b, "data_offset", (gint64) h->data_offset);
	mu_json_builder_add_int_member (b, "data_size", (gint64) h->data_size);
	add_text (b, "cipher", h->cipher);
	mu_json_builder_add_int_member (b, "key_size_bits", (gint64) h->key_size * 8);
	mu_json_builder_add_int_member (b, "sector_size", h->sector_size);
	mu_json_builder_add_int_member (b, "hash_offset", (gint64) h->hash_offset);
	add_text (b, "verity_hash", h->verity_hash);
	mu_json_builder_add_int_member (b, "data_block_size", h->data_block_size);
	mu_json_builder_add_int_member (b, "hash_block_size", h->hash_block_size);
	add_text (b, "verity_salt", salt);
	add_text (b, "root_hash", root);
	json_builder_end_object (b);
}

static void
add_keyslots_json (JsonBuilder *b, const InspectV2 *v)
{
	json_builder_set_member_name (b, "keyslots");
	json_builder_begin_array (b);
	for (guint i = 0; i < v->slots->len; i++) {
		const MuToolKeyslot *ks = g_ptr_array_index (v->slots, i);

		json_builder_begin_object (b);
		mu_json_builder_add_int_member (b, "slot", ks->slot);
		add_text (b, "key_id", ks->key_id);
		json_builder_set_member_name (b, "token");
		if (ks->token >= 0)
			json_builder_add_int_value (b, ks->token);
		else
			json_builder_add_null_value (b);
		json_builder_set_member_name (b, "pbkdf");
		json_builder_begin_object (b);
		add_text (b, "type", ks->pbkdf_type);
		add_text (b, "hash", ks->pbkdf_hash);
		mu_json_builder_add_int_member (b, "iterations", ks->pbkdf_iterations);
		mu_json_builder_add_int_member (b, "memory_kib", ks->pbkdf_memory_kib);
		mu_json_builder_add_int_member (b, "parallel", ks->pbkdf_parallel);
		json_builder_end_object (b);
		json_builder_end_object (b);
	}
	json_builder_end_array (b);
}

static void
print_json (const InspectV2 *v)
{
	g_autoptr (JsonBuilder) b = json_builder_new ();
	g_autoptr (JsonGenerator) generator = json_generator_new ();
	g_autoptr (JsonNode) root = NULL;
	g_autofree gchar *text = NULL;

	json_builder_begin_object (b);
	add_text (b, "path", v->path);
	mu_json_builder_add_int_member (b, "format_version", MU_BUNDLE_FORMAT_V2);
	add_text (b, "label", crypt_get_label (v->cd));
	add_text (b, "subsystem", crypt_get_subsystem (v->cd));
	add_text (b, "uuid", crypt_get_uuid (v->cd));
	mu_json_builder_add_int_member (b, "file_size", (gint64) v->file_size);
	if (v->header != NULL) {
		add_header_json (b, v->header);
		mu_json_builder_add_int_member (b, "signatures",
						mu_signed_token_get_n_signatures (v->token));
	}
	add_error (b, "header_error", v->header_error);
	mu_json_builder_add_boolean_member (b, "matches_luks",
					    v->header != NULL && v->luks_error == NULL);
	add_error (b, "luks_error", v->luks_error);
	if (v->checked) {
		json_builder_set_member_name (b, "verification");
		json_builder_begin_object (b);
		mu_json_builder_add_boolean_member (b, "verified", v->verified);
		add_text (b, "key", v->verified ? mu_ed25519_key_get_id (v->signer) : NULL);
		add_error (b, "error", v->verify_error);
		json_builder_end_object (b);
	}
	add_keyslots_json (b, v);
	if (v->key != NULL) {
		json_builder_set_member_name (b, "key");
		json_builder_begin_object (b);
		add_text (b, "id", v->key->id);
		mu_json_builder_add_boolean_member (b, "opened", v->key_slot >= 0);
		json_builder_set_member_name (b, "slot");
		if (v->key_slot >= 0)
			json_builder_add_int_value (b, v->key_slot);
		else
			json_builder_add_null_value (b);
		json_builder_end_object (b);
	}
	json_builder_end_object (b);
	root = json_builder_get_root (b);
	json_generator_set_root (generator, root);
	json_generator_set_pretty (generator, TRUE);
	text = json_generator_to_data (generator, NULL);
	g_print ("%s\n", text);
}

/* An unusable bundle: the reason on stderr, and with --json {"error": {...}} on stdout. */
static int
fail (const GError *error, gboolean json)
{
	if (json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();
		g_autoptr (JsonGenerator) generator = json_generator_new ();
		g_autoptr (JsonNode) root = NULL;
		g_autofree gchar *text = NULL;

		json_builder_begin_object (b);
		add_error (b, "error", error);
		json_builder_end_object (b);
		root = json_builder_get_root (b);
		json_generator_set_root (generator, root);
		json_generator_set_pretty (generator, TRUE);
		text = json_generator_to_data (generator, NULL);
		g_print ("%s\n", text);
	}
	return mu_tool_fail ("", error);
}

int
mu_tool_inspect_v2 (const gchar *path, const gchar *key_path, gchar **trusted, gboolean json)
{
	g_auto (InspectV2) v = { .path = path, .key_slot = -1 };
	g_autoptr (GError) error = NULL;

	if (!open_v2 (&v, key_path, trusted, &error))
		return fail (error, json);
	/* A header that does not parse, or does not describe this file: nothing to show. */
	if (v.header == NULL)
		return fail (v.header_error, json);
	if (v.luks_error != NULL)
		return fail (v.luks_error, json);
	if (json)
		print_json (&v);
	else
		print_text (&v);
	if (v.checked && !v.verified)
		return mu_tool_fail ("the signed header does not verify: ", v.verify_error);
	if (v.key != NULL && v.key_slot < 0) {
		g_autoptr (GError) no_key = g_error_new (MU_ERROR, MU_ERROR_NO_KEY,
							 "this key opens no keyslot of '%s'", path);

		return mu_tool_fail ("", no_key);
	}
	return MU_TOOL_EXIT_OK;
}
