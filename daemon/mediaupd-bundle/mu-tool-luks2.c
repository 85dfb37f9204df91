/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-json.h"
#include "mu-tool-luks2.h"
#include "mu-tool.h"

/* The binary LUKS2 header (cryptsetup's docs/on-disk-format-luks2.pdf): big endian. */
#define LUKS2_BIN_HEADER_SIZE 4096
#define LUKS2_OFF_VERSION 6
#define LUKS2_OFF_HDR_SIZE 8
#define LUKS2_OFF_SEQID 16
#define LUKS2_OFF_CSUM_ALG 72
#define LUKS2_OFF_HDR_OFFSET 256
#define LUKS2_OFF_CSUM 448
#define LUKS2_CSUM_LEN 64
#define LUKS2_MAX_HDR_SIZE (4 * 1024 * 1024)

static const guint8 luks2_magic[2][6] = {
	{ 'L', 'U', 'K', 'S', 0xba, 0xbe },
	{ 'S', 'K', 'U', 'L', 0xba, 0xbe },
};

struct crypt_device *
mu_tool_luks2_load (const gchar *path, GError **error)
{
	g_autoptr (MuCryptDevice) cd = NULL;
	int r;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	mu_luks_init ();
	r = crypt_init (&cd, path);
	if (r < 0) {
		mu_error_set_errno (error, -r, "cannot open '%s'", path);
		return NULL;
	}
	mu_luks_set_device_logging (cd);
	r = crypt_load (cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' has no readable LUKS2 header (%s)", path, g_strerror (-r));
		return NULL;
	}
	return g_steal_pointer (&cd);
}

gboolean
mu_tool_luks2_dump (struct crypt_device *cd, gchar **ret_text, JsonNode **ret_node, GError **error)
{
	const char *json = NULL;
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autoptr (GError) local_error = NULL;
	int r;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	r = crypt_dump_json (cd, &json, 0);
	if (r < 0 || json == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "cannot dump the LUKS2 header (%s)", g_strerror (-r));
		return FALSE;
	}
	if (!mu_json_parser_load_text (parser, json, -1, &local_error) ||
	    !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the LUKS2 header's JSON does not parse");
		return FALSE;
	}
	if (ret_text != NULL)
		*ret_text = g_strdup (json);
	if (ret_node != NULL)
		*ret_node = json_node_copy (json_parser_get_root (parser));
	return TRUE;
}

static guint64
get_be64 (const guint8 *p)
{
	guint64 v;

	memcpy (&v, p, sizeof v);
	return GUINT64_FROM_BE (v);
}

/* Reads one header copy at @offset: checks its magic, version and size. */
static guint8 *
read_copy (int fd, guint copy, guint64 offset, guint64 *inout_hdr_size, GError **error)
{
	guint8 bin[LUKS2_BIN_HEADER_SIZE];
	g_autofree guint8 *data = NULL;
	guint64 hdr_size;

	if (!mu_tool_pread_all (fd, bin, sizeof bin, offset, error)) {
		g_prefix_error (error, "LUKS2 header copy %u: ", copy + 1);
		return NULL;
	}
	hdr_size = get_be64 (bin + LUKS2_OFF_HDR_SIZE);
	if (memcmp (bin, luks2_magic[copy], sizeof luks2_magic[copy]) != 0 ||
	    bin[LUKS2_OFF_VERSION] != 0 || bin[LUKS2_OFF_VERSION + 1] != 2 ||
	    hdr_size <= LUKS2_BIN_HEADER_SIZE || hdr_size > LUKS2_MAX_HDR_SIZE ||
	    (*inout_hdr_size != 0 && hdr_size != *inout_hdr_size) ||
	    get_be64 (bin + LUKS2_OFF_HDR_OFFSET) != offset ||
	    strcmp ((const gchar *) bin + LUKS2_OFF_CSUM_ALG, "sha256") != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "LUKS2 header copy %u is not a sha256-checksummed LUKS2 header",
			     copy + 1);
		return NULL;
	}
	data = g_malloc (hdr_size);
	memcpy (data, bin, sizeof bin);
	if (!mu_tool_pread_all (fd, data + sizeof bin, hdr_size - sizeof bin, offset + sizeof bin,
				error)) {
		g_prefix_error (error, "LUKS2 header copy %u: ", copy + 1);
		return NULL;
	}
	*inout_hdr_size = hdr_size;
	return g_steal_pointer (&data);
}

/* The JSON area of @data with segment "0"'s size (and encryption) set; NULL if it is not
 * there. */
static gchar *
edit_json (const guint8 *data, guint64 hdr_size, guint64 size, const gchar *encryption,
	   GError **error)
{
	gsize area = hdr_size - LUKS2_BIN_HEADER_SIZE;
	g_autofree gchar *text = g_strndup ((const gchar *) data + LUKS2_BIN_HEADER_SIZE, area);
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autoptr (JsonGenerator) generator = json_generator_new ();
	g_autofree gchar *size_text = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
	JsonObject *root;
	JsonObject *segments;
	JsonObject *segment;

	if (!mu_json_parser_load_text (parser, text, -1, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the LUKS2 JSON area does not parse");
		return NULL;
	}
	root = json_node_get_object (json_parser_get_root (parser));
	segments = json_object_get_object_member (root, "segments");
	segment = segments != NULL ? json_object_get_object_member (segments, "0") : NULL;
	if (segment == NULL || json_object_get_size (segments) != 1 ||
	    !json_object_has_member (segment, "size")) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the LUKS2 header has not exactly one data segment \"0\"");
		return NULL;
	}
	json_object_set_string_member (segment, "size", size_text);
	if (encryption != NULL)
		json_object_set_string_member (segment, "encryption", encryption);
	json_generator_set_root (generator, json_parser_get_root (parser));
	return json_generator_to_data (generator, NULL);
}

gboolean
mu_tool_luks2_set_segment (int fd, guint64 size, const gchar *encryption, GError **error)
{
	guint64 hdr_size = 0;
	g_autofree guint8 *primary = NULL;
	g_autofree guint8 *secondary = NULL;
	g_autofree gchar *json = NULL;
	guint8 *copies[2];
	gsize json_len;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	primary = read_copy (fd, 0, 0, &hdr_size, error);
	if (primary == NULL)
		return FALSE;
	secondary = read_copy (fd, 1, hdr_size, &hdr_size, error);
	if (secondary == NULL)
		return FALSE;
	copies[0] = primary;
	copies[1] = secondary;
	json = edit_json (primary, hdr_size, size, encryption, error);
	if (json == NULL)
		return FALSE;
	json_len = strlen (json);
	if (json_len >= hdr_size - LUKS2_BIN_HEADER_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the LUKS2 JSON no longer fits its %" G_GUINT64_FORMAT "-byte area",
			     hdr_size - LUKS2_BIN_HEADER_SIZE);
		return FALSE;
	}
	for (guint i = 0; i < 2; i++) {
		guint8 *copy = copies[i];
		guint64 seqid = get_be64 (copy + LUKS2_OFF_SEQID) + 1;
		gsize digest_len = LUKS2_CSUM_LEN;
		g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

		seqid = GUINT64_TO_BE (seqid);
		memcpy (copy + LUKS2_OFF_SEQID, &seqid, sizeof seqid);
		memset (copy + LUKS2_BIN_HEADER_SIZE, 0, hdr_size - LUKS2_BIN_HEADER_SIZE);
		memcpy (copy + LUKS2_BIN_HEADER_SIZE, json, json_len);
		memset (copy + LUKS2_OFF_CSUM, 0, LUKS2_CSUM_LEN);
		g_checksum_update (checksum, copy, hdr_size);
		g_checksum_get_digest (checksum, copy + LUKS2_OFF_CSUM, &digest_len);
	}
	/* The secondary first: a crash in between leaves a primary libcryptsetup prefers. */
	if (!mu_tool_pwrite_all (fd, copies[1], hdr_size, hdr_size, error) ||
	    !mu_tool_pwrite_all (fd, copies[0], hdr_size, 0, error)) {
		g_prefix_error (error, "cannot write the LUKS2 header: ");
		return FALSE;
	}
	if (fsync (fd) != 0) {
		mu_error_set_errno (error, errno, "cannot write the LUKS2 header");
		return FALSE;
	}
	return TRUE;
}

gchar *
mu_tool_keyid_token_json (gint slot, const gchar *key_id)
{
	g_autoptr (JsonBuilder) b = json_builder_new ();
	g_autoptr (JsonGenerator) generator = json_generator_new ();
	g_autoptr (JsonNode) root = NULL;
	g_autofree gchar *slot_text = g_strdup_printf ("%d", slot);

	json_builder_begin_object (b);
	json_builder_set_member_name (b, "type");
	json_builder_add_string_value (b, MU_BUNDLE_TOKEN_TYPE);
	json_builder_set_member_name (b, "keyslots");
	json_builder_begin_array (b);
	json_builder_add_string_value (b, slot_text);
	json_builder_end_array (b);
	json_builder_set_member_name (b, MU_BUNDLE_TOKEN_KEY_ID);
	json_builder_add_string_value (b, key_id);
	json_builder_end_object (b);
	root = json_builder_get_root (b);
	json_generator_set_root (generator, root);
	return json_generator_to_data (generator, NULL);
}

void
mu_tool_keyslot_free (MuToolKeyslot *ks)
{
	if (ks == NULL)
		return;
	g_free (ks->pbkdf_type);
	g_free (ks->pbkdf_hash);
	g_free (ks->key_id);
	g_free (ks);
}

static gint
compare_slots (gconstpointer a, gconstpointer b)
{
	const MuToolKeyslot *x = *(MuToolKeyslot *const *) a;
	const MuToolKeyslot *y = *(MuToolKeyslot *const *) b;

	return x->slot - y->slot;
}

static gboolean
parse_index (const gchar *text, gint *ret_index)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned (text, 10, 0, 1023, &v, NULL))
		return FALSE;
	*ret_index = (gint) v;
	return TRUE;
}

static guint32
get_uint (JsonObject *o, const gchar *name)
{
	JsonNode *n = json_object_get_member (o, name);

	if (n == NULL || json_node_get_value_type (n) != G_TYPE_INT64)
		return 0;
	return (guint32) CLAMP (json_node_get_int (n), 0, G_MAXUINT32);
}

static MuToolKeyslot *
find_slot (GPtrArray *slots, gint slot)
{
	for (guint i = 0; i < slots->len; i++) {
		MuToolKeyslot *ks = g_ptr_array_index (slots, i);

		if (ks->slot == slot)
			return ks;
	}
	return NULL;
}

static gboolean
add_keyid_tokens (JsonObject *tokens, GPtrArray *slots, GError **error)
{
	g_autoptr (GList) names = tokens != NULL ? json_object_get_members (tokens) : NULL;

	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *token = json_object_get_object_member (tokens, l->data);
		JsonArray *token_slots;
		const gchar *key_id;
		MuToolKeyslot *ks;
		gint id;
		gint slot;

		if (token == NULL || !parse_index (l->data, &id))
			continue;
		if (g_strcmp0 (json_object_get_string_member_with_default (token, "type", ""),
			       MU_BUNDLE_TOKEN_TYPE) != 0)
			continue;
		token_slots = json_object_get_array_member (token, "keyslots");
		key_id = json_object_get_string_member_with_default (token, MU_BUNDLE_TOKEN_KEY_ID,
								     NULL);
		if (token_slots == NULL || json_array_get_length (token_slots) != 1 ||
		    key_id == NULL ||
		    !parse_index (json_array_get_string_element (token_slots, 0), &slot)) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "token %d is a malformed " MU_BUNDLE_TOKEN_TYPE " token", id);
			return FALSE;
		}
		ks = find_slot (slots, slot);
		if (ks == NULL || ks->token >= 0)
			continue;
		ks->token = id;
		ks->key_id = g_strdup (key_id);
	}
	return TRUE;
}

GPtrArray *
mu_tool_luks2_list_keyslots (JsonNode *root, GError **error)
{
	JsonObject *top = json_node_get_object (root);
	JsonObject *keyslots = json_object_get_object_member (top, "keyslots");
	g_autoptr (GPtrArray) slots = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_tool_keyslot_free);
	g_autoptr (GList) names = keyslots != NULL ? json_object_get_members (keyslots) : NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *slot = json_object_get_object_member (keyslots, l->data);
		JsonObject *kdf = slot != NULL ? json_object_get_object_member (slot, "kdf") : NULL;
		g_autoptr (MuToolKeyslot) ks = g_new0 (MuToolKeyslot, 1);

		if (kdf == NULL || !parse_index (l->data, &ks->slot)) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "keyslot '%s' of the LUKS2 header is malformed",
				     (const gchar *) l->data);
			return NULL;
		}
		ks->token = -1;
		ks->pbkdf_type = g_strdup (
			json_object_get_string_member_with_default (kdf, "type", "unknown"));
		if (g_str_equal (ks->pbkdf_type, "pbkdf2")) {
			ks->pbkdf_hash = g_strdup (
				json_object_get_string_member_with_default (kdf, "hash",
									    "unknown"));
			ks->pbkdf_iterations = get_uint (kdf, "iterations");
		} else {
			ks->pbkdf_iterations = get_uint (kdf, "time");
			ks->pbkdf_memory_kib = get_uint (kdf, "memory");
			ks->pbkdf_parallel = get_uint (kdf, "cpus");
		}
		g_ptr_array_add (slots, g_steal_pointer (&ks));
	}
	g_ptr_array_sort (slots, compare_slots);
	if (!add_keyid_tokens (json_object_get_object_member (top, "tokens"), slots, error))
		return NULL;
	return g_steal_pointer (&slots);
}

gint
mu_tool_luks2_find_token (JsonNode *root, const gchar *type)
{
	JsonObject *tokens = json_object_get_object_member (json_node_get_object (root), "tokens");
	g_autoptr (GList) names = tokens != NULL ? json_object_get_members (tokens) : NULL;
	gint best = -1;

	for (GList *l = names; l != NULL; l = l->next) {
		JsonObject *token = json_object_get_object_member (tokens, l->data);
		gint id;

		if (token == NULL || !parse_index (l->data, &id))
			continue;
		if (g_strcmp0 (json_object_get_string_member_with_default (token, "type", ""),
			       type) == 0 &&
		    (best < 0 || id < best))
			best = id;
	}
	return best;
}
