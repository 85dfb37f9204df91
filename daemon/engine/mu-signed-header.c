/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-signed-header.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <ostree.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-json.h"
#include "mu-luks.h"

/* The ciphers a v2 header may name, with their volume key sizes; whether the device
 * accepts one is its configuration's decision, not the parser's. */
static const struct {
	const gchar *name;
	guint32 key_size;
} known_ciphers[] = {
	{ "aes-xts-plain64", 64 },
	{ "xchacha12,aes-adiantum-plain64", 32 },
};

#define SECTOR_SIZE 4096
#define DIGEST_TYPE "pbkdf2"
#define DIGEST_SALT_LEN 32         /* LUKS2 digests: LUKS_SALTSIZE */
#define DIGEST_MIN_ITERATIONS 1000 /* LUKS2's minimum for pbkdf2 */
#define SHORT_TEXT_MAX 255
#define VERITY_DIGEST_LEN 32 /* sha256 */

/* A header is at most MU_SIGNED_HEADER_MAX_SIZE bytes; the token around it stays well
 * inside the 64 KiB LUKS2 metadata area, so anything larger is refused before parsing. */
#define TOKEN_JSON_MAX_SIZE ((gsize) 48 * 1024)

/* MU_SIGNED_HEADER_FORMAT as g_variant_new() and g_variant_get() spell it. */
#define VARIANT_ARGS "(su(ttsuu)(ssu@ay@ay)(tsuu@ay@ay)(ssss^assssttt))"

#define HINT_DAMAGED "the bundle is damaged or was not made by 'mediaupd-bundle create'"

void
mu_signed_header_free (MuSignedHeader *header)
{
	if (header == NULL)
		return;
	g_free (header->cipher);
	g_free (header->digest_type);
	g_free (header->digest_hash);
	g_clear_pointer (&header->digest_salt, g_bytes_unref);
	g_clear_pointer (&header->digest, g_bytes_unref);
	g_free (header->verity_hash);
	g_clear_pointer (&header->verity_salt, g_bytes_unref);
	g_clear_pointer (&header->root_hash, g_bytes_unref);
	g_free (header->os_id);
	g_free (header->os_variant_id);
	g_free (header->ref);
	g_free (header->collection_binding);
	g_strfreev (header->ref_bindings);
	g_free (header->to_commit);
	g_free (header->from_commit);
	g_free (header->version);
	g_free (header);
}

/* MU_ERROR_CORRUPT_BUNDLE: "the signed header's WHAT; HINT". */
static gboolean G_GNUC_PRINTF (3, 4)
	header_error (GError **error, gint code, const gchar *format, ...)
{
	g_autofree gchar *what = NULL;
	va_list args;

	va_start (args, format);
	what = g_strdup_vprintf (format, args);
	va_end (args);
	g_set_error (error, MU_ERROR, code, "the signed header's %s; %s", what,
		     code == MU_ERROR_UNSUPPORTED_FORMAT
			     ? "this device cannot install it: make the bundle with the "
			       "parameters of format 2 (docs/bundle-format.md)"
			     : HINT_DAMAGED);
	return FALSE;
}

/* Whether @cipher is known, with its volume key size. */
static gboolean
lookup_cipher (const gchar *cipher, guint32 *out_key_size)
{
	for (guint i = 0; i < G_N_ELEMENTS (known_ciphers); i++) {
		if (g_strcmp0 (cipher, known_ciphers[i].name) == 0) {
			*out_key_size = known_ciphers[i].key_size;
			return TRUE;
		}
	}
	return FALSE;
}

/* Short printable UTF-8 text, "" allowed only if @may_be_empty. */
static gboolean
check_text (const gchar *field, const gchar *value, gboolean may_be_empty, GError **error)
{
	gsize len;

	if (value == NULL)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE, "%s is missing", field);
	len = strlen (value);
	if (len == 0 && !may_be_empty)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE, "%s is empty", field);
	if (len > SHORT_TEXT_MAX)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "%s is %" G_GSIZE_FORMAT " bytes long, more than %d", field,
				     len, SHORT_TEXT_MAX);
	if (!g_utf8_validate (value, (gssize) len, NULL))
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE, "%s is not valid UTF-8",
				     field);
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar) value[i];

		if (c < 0x20 || c == 0x7f)
			return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
					     "%s contains the control character 0x%02x", field, c);
	}
	/* Shown in messages and by inspect as it is: nothing a terminal would act on. */
	if (!mu_escape_is_clean (value))
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "%s contains control or bidirectional-text characters", field);
	return TRUE;
}

static gboolean
check_checksum (const gchar *field, const gchar *value, GError **error)
{
	if (!check_text (field, value, FALSE, error))
		return FALSE;
	if (!ostree_validate_checksum_string (value, NULL))
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "%s is not an OSTree checksum (64 lowercase hex digits)",
				     field);
	return TRUE;
}

static gboolean
check_ref (const gchar *field, const gchar *value, GError **error)
{
	if (!check_text (field, value, FALSE, error))
		return FALSE;
	if (!ostree_validate_rev (value, NULL))
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE, "%s is not a valid OSTree ref",
				     field);
	return TRUE;
}

static gboolean
check_bytes_len (const gchar *field, GBytes *value, gsize len, GError **error)
{
	if (value == NULL)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE, "%s is missing", field);
	if (g_bytes_get_size (value) != len)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "%s is %" G_GSIZE_FORMAT
				     " bytes long instead of %" G_GSIZE_FORMAT,
				     field, g_bytes_get_size (value), len);
	return TRUE;
}

static gboolean
check_segment (const MuSignedHeader *header, GError **error)
{
	guint32 key_size = 0;

	if (header->data_offset == 0 || header->data_offset % SECTOR_SIZE != 0)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "data segment offset %" G_GUINT64_FORMAT
				     " is not a non-zero multiple of %d",
				     header->data_offset, SECTOR_SIZE);
	if (header->data_offset < 2 * MU_BUNDLE_V2_METADATA_SIZE)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "data segment offset %" G_GUINT64_FORMAT
				     " lies inside the LUKS2 metadata (%d bytes)",
				     header->data_offset, 2 * MU_BUNDLE_V2_METADATA_SIZE);
	if (header->data_size == 0 || header->data_size % SECTOR_SIZE != 0)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "data segment size %" G_GUINT64_FORMAT
				     " is not a non-zero multiple of %d",
				     header->data_size, SECTOR_SIZE);
	if (header->data_offset > (guint64) G_MAXINT64 ||
	    header->data_size > (guint64) G_MAXINT64 - header->data_offset)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "data segment (offset %" G_GUINT64_FORMAT
				     ", size %" G_GUINT64_FORMAT
				     ") ends beyond the largest file size",
				     header->data_offset, header->data_size);
	if (!check_text ("cipher", header->cipher, FALSE, error))
		return FALSE;
	if (!lookup_cipher (header->cipher, &key_size))
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "cipher '%s' is not one of aes-xts-plain64 and "
				     "xchacha12,aes-adiantum-plain64",
				     header->cipher);
	if (header->key_size != key_size)
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "volume key size %u does not fit cipher %s (%u bytes)",
				     header->key_size, header->cipher, key_size);
	if (header->sector_size != SECTOR_SIZE)
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT, "sector size %u is not %d",
				     header->sector_size, SECTOR_SIZE);
	return TRUE;
}

static gboolean
check_digest (const MuSignedHeader *header, GError **error)
{
	gsize digest_len;

	if (!check_text ("digest type", header->digest_type, FALSE, error) ||
	    !check_text ("digest hash", header->digest_hash, FALSE, error))
		return FALSE;
	if (g_strcmp0 (header->digest_type, DIGEST_TYPE) != 0)
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "volume key digest type '%s' is not %s", header->digest_type,
				     DIGEST_TYPE);
	if (g_strcmp0 (header->digest_hash, "sha256") == 0)
		digest_len = 32;
	else if (g_strcmp0 (header->digest_hash, "sha512") == 0)
		digest_len = 64;
	else
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "volume key digest hash '%s' is not sha256 or sha512",
				     header->digest_hash);
	if (header->digest_iterations < DIGEST_MIN_ITERATIONS)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "volume key digest iterations %u are fewer than LUKS2's "
				     "minimum %d",
				     header->digest_iterations, DIGEST_MIN_ITERATIONS);
	return check_bytes_len ("volume key digest salt", header->digest_salt, DIGEST_SALT_LEN,
				error) &&
	       check_bytes_len ("volume key digest", header->digest, digest_len, error);
}

static gboolean
check_verity (const MuSignedHeader *header, GError **error)
{
	guint64 tree_size;

	if (!check_text ("verity hash", header->verity_hash, FALSE, error))
		return FALSE;
	if (g_strcmp0 (header->verity_hash, MU_BUNDLE_VERITY_HASH) != 0)
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "verity hash '%s' is not %s", header->verity_hash,
				     MU_BUNDLE_VERITY_HASH);
	if (header->data_block_size != MU_BUNDLE_VERITY_BLOCK_SIZE ||
	    header->hash_block_size != MU_BUNDLE_VERITY_BLOCK_SIZE)
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "verity block sizes (data %u, hash %u) are not %d",
				     header->data_block_size, header->hash_block_size,
				     MU_BUNDLE_VERITY_BLOCK_SIZE);
	if (!check_bytes_len ("verity salt", header->verity_salt, MU_BUNDLE_VERITY_SALT_LEN,
			      error) ||
	    !check_bytes_len ("verity root hash", header->root_hash, MU_BUNDLE_VERITY_ROOT_LEN,
			      error))
		return FALSE;
	/* check_segment() bounded data_offset + data_size. */
	if (header->hash_offset != header->data_offset + header->data_size)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "verity hash tree offset %" G_GUINT64_FORMAT
				     " is not right after the data segment (%" G_GUINT64_FORMAT ")",
				     header->hash_offset, header->data_offset + header->data_size);
	tree_size = mu_signed_header_hash_tree_size (header);
	if (tree_size > (guint64) G_MAXINT64 - header->hash_offset)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "verity hash tree (%" G_GUINT64_FORMAT
				     " bytes) ends beyond the largest file size",
				     tree_size);
	return TRUE;
}

static gboolean
check_update (const MuSignedHeader *header, GError **error)
{
	guint n_bindings = header->ref_bindings != NULL ? g_strv_length (header->ref_bindings) : 0;

	if (!check_text ("os-release ID", header->os_id, TRUE, error) ||
	    !check_text ("os-release VARIANT_ID", header->os_variant_id, TRUE, error) ||
	    !check_ref ("ref", header->ref, error) ||
	    !check_text ("collection binding", header->collection_binding, TRUE, error))
		return FALSE;
	if (header->collection_binding[0] != '\0' &&
	    !ostree_validate_collection_id (header->collection_binding, NULL))
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "collection binding is not a valid OSTree collection ID");
	if (n_bindings > MU_SIGNED_HEADER_MAX_REF_BINDINGS)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "ref binding list has %u entries, more than %d", n_bindings,
				     MU_SIGNED_HEADER_MAX_REF_BINDINGS);
	for (guint i = 0; i < n_bindings; i++) {
		g_autofree gchar *field = g_strdup_printf ("ref binding %u", i + 1);

		if (!check_ref (field, header->ref_bindings[i], error))
			return FALSE;
	}
	if (!check_checksum ("to-commit", header->to_commit, error) ||
	    !check_text ("from-commit", header->from_commit, TRUE, error))
		return FALSE;
	if (header->from_commit[0] != '\0' &&
	    !check_checksum ("from-commit", header->from_commit, error))
		return FALSE;
	if (g_strcmp0 (header->from_commit, header->to_commit) == 0)
		return header_error (error, MU_ERROR_CORRUPT_BUNDLE,
				     "from-commit is the to-commit");
	return check_text ("version", header->version, TRUE, error);
}

static gboolean
check_header (const MuSignedHeader *header, GError **error)
{
	if (header->format != MU_BUNDLE_FORMAT_V2)
		return header_error (error, MU_ERROR_UNSUPPORTED_FORMAT,
				     "format version is %u; this device reads format %d",
				     header->format, MU_BUNDLE_FORMAT_V2);
	return check_segment (header, error) && check_digest (header, error) &&
	       check_verity (header, error) && check_update (header, error);
}

guint64
mu_signed_header_hash_tree_size (const MuSignedHeader *header)
{
	guint64 data_blocks;
	guint hash_per_block_bits = 0;
	guint levels = 0;
	guint64 hash_blocks = 0;

	g_return_val_if_fail (header != NULL, 0);
	g_return_val_if_fail (header->data_block_size > 0, 0);
	g_return_val_if_fail (header->hash_block_size >= 2 * VERITY_DIGEST_LEN, 0);

	/* As libcryptsetup's verity_hash.c (and the kernel's dm-verity) count: each hash
	 * block holds a power of two of digests; level i has one digest per block of level
	 * i - 1, the data being level -1; the level of a single block is the root, not
	 * stored. */
	data_blocks = header->data_size / header->data_block_size;
	while ((2u * VERITY_DIGEST_LEN) << hash_per_block_bits <= header->hash_block_size)
		hash_per_block_bits++;
	if (data_blocks > 0) {
		while (hash_per_block_bits * levels < 64 &&
		       (data_blocks - 1) >> (hash_per_block_bits * levels) != 0)
			levels++;
	}
	for (guint i = 0; i < levels; i++) {
		guint shift = (i + 1) * hash_per_block_bits;
		guint64 rest;

		if (shift >= 64) {
			hash_blocks += 1;
			continue;
		}
		rest = data_blocks & ((G_GUINT64_CONSTANT (1) << shift) - 1);
		hash_blocks += (data_blocks >> shift) + (rest != 0 ? 1 : 0);
	}
	return hash_blocks * header->hash_block_size;
}

GBytes *
mu_signed_header_serialize (const MuSignedHeader *header, GError **error)
{
	const gchar *const empty[] = { NULL };
	g_autoptr (GVariant) value = NULL;

	g_return_val_if_fail (header != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!check_header (header, error))
		return NULL;
	value = g_variant_ref_sink (
		g_variant_new (VARIANT_ARGS, MU_SIGNED_HEADER_MAGIC, header->format,
			       header->data_offset, header->data_size, header->cipher,
			       header->key_size, header->sector_size, header->digest_type,
			       header->digest_hash, header->digest_iterations,
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
							 header->digest_salt, TRUE),
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, header->digest,
							 TRUE),
			       header->hash_offset, header->verity_hash, header->data_block_size,
			       header->hash_block_size,
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
							 header->verity_salt, TRUE),
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
							 header->root_hash, TRUE),
			       header->os_id, header->os_variant_id, header->ref,
			       header->collection_binding,
			       header->ref_bindings != NULL
				       ? (const gchar *const *) header->ref_bindings
				       : empty,
			       header->to_commit, header->from_commit, header->version,
			       header->timestamp, header->total_compressed,
			       header->total_uncompressed));
	if (g_variant_get_size (value) > MU_SIGNED_HEADER_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "the signed header would be %" G_GSIZE_FORMAT " bytes, more than "
			     "the %" G_GSIZE_FORMAT " a device accepts; use shorter names",
			     g_variant_get_size (value), MU_SIGNED_HEADER_MAX_SIZE);
		return NULL;
	}
	return g_variant_get_data_as_bytes (value);
}

MuSignedHeader *
mu_signed_header_parse (GBytes *bytes, GError **error)
{
	g_autoptr (GVariant) value = NULL;
	g_autoptr (GVariant) normal = NULL;
	g_autoptr (GVariant) digest_salt = NULL;
	g_autoptr (GVariant) digest = NULL;
	g_autoptr (GVariant) verity_salt = NULL;
	g_autoptr (GVariant) root_hash = NULL;
	g_autoptr (MuSignedHeader) header = g_new0 (MuSignedHeader, 1);
	g_autofree gchar *magic = NULL;
	gsize size;

	g_return_val_if_fail (bytes != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	size = g_bytes_get_size (bytes);
	if (size == 0 || size > MU_SIGNED_HEADER_MAX_SIZE) {
		header_error (error, MU_ERROR_CORRUPT_BUNDLE,
			      "size %" G_GSIZE_FORMAT " is not 1 to %" G_GSIZE_FORMAT " bytes",
			      size, MU_SIGNED_HEADER_MAX_SIZE);
		return NULL;
	}
	value = g_variant_ref_sink (
		g_variant_new_from_bytes (G_VARIANT_TYPE (MU_SIGNED_HEADER_FORMAT), bytes, FALSE));
	normal = g_variant_get_normal_form (value);
	if (g_variant_get_size (normal) != size ||
	    memcmp (g_variant_get_data (normal), g_bytes_get_data (bytes, NULL), size) != 0) {
		header_error (error, MU_ERROR_CORRUPT_BUNDLE,
			      "%" G_GSIZE_FORMAT " bytes are not a %s GVariant in normal form",
			      size, MU_SIGNED_HEADER_FORMAT);
		return NULL;
	}
	g_variant_get (normal, VARIANT_ARGS, &magic, &header->format, &header->data_offset,
		       &header->data_size, &header->cipher, &header->key_size, &header->sector_size,
		       &header->digest_type, &header->digest_hash, &header->digest_iterations,
		       &digest_salt, &digest, &header->hash_offset, &header->verity_hash,
		       &header->data_block_size, &header->hash_block_size, &verity_salt, &root_hash,
		       &header->os_id, &header->os_variant_id, &header->ref,
		       &header->collection_binding, &header->ref_bindings, &header->to_commit,
		       &header->from_commit, &header->version, &header->timestamp,
		       &header->total_compressed, &header->total_uncompressed);
	if (g_strcmp0 (magic, MU_SIGNED_HEADER_MAGIC) != 0) {
		header_error (error, MU_ERROR_CORRUPT_BUNDLE, "magic is not %s",
			      MU_SIGNED_HEADER_MAGIC);
		return NULL;
	}
	header->digest_salt = g_variant_get_data_as_bytes (digest_salt);
	header->digest = g_variant_get_data_as_bytes (digest);
	header->verity_salt = g_variant_get_data_as_bytes (verity_salt);
	header->root_hash = g_variant_get_data_as_bytes (root_hash);
	if (!check_header (header, error))
		return NULL;
	return g_steal_pointer (&header);
}

/* The token. */

struct _MuSignedToken {
	GBytes *header;
	GPtrArray *signatures; /* GBytes, MU_ED25519_SIGNATURE_LEN each */
};

void
mu_signed_token_free (MuSignedToken *token)
{
	if (token == NULL)
		return;
	g_bytes_unref (token->header);
	g_ptr_array_unref (token->signatures);
	g_free (token);
}

static gboolean G_GNUC_PRINTF (2, 3) token_error (GError **error, const gchar *format, ...)
{
	g_autofree gchar *what = NULL;
	va_list args;

	va_start (args, format);
	what = g_strdup_vprintf (format, args);
	va_end (args);
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE, "the %s token %s; %s",
		     MU_BUNDLE_SIGNED_TOKEN_TYPE, what, HINT_DAMAGED);
	return FALSE;
}

/* Canonical base64 (as g_base64_encode writes it) of at most @max_len bytes, or NULL. */
static GBytes *
decode_base64 (const gchar *text, gsize max_len)
{
	g_autofree guchar *raw = NULL;
	g_autofree gchar *again = NULL;
	gsize len = 0;

	if (text == NULL || strlen (text) > (max_len + 2) / 3 * 4)
		return NULL;
	raw = g_base64_decode (text, &len);
	again = g_base64_encode (raw, len);
	if (strcmp (again, text) != 0)
		return NULL;
	return g_bytes_new_take (g_steal_pointer (&raw), len);
}

/* A string member of the token, or NULL with an error. */
static const gchar *
token_string (JsonObject *object, const gchar *name, GError **error)
{
	const gchar *value = mu_json_object_get_string (object, name);

	if (value == NULL)
		token_error (error, "has no string member '%s'", name);
	return value;
}

static GPtrArray *
parse_signatures (JsonObject *object, GError **error)
{
	g_autoptr (GPtrArray) signatures = NULL;
	JsonNode *node = json_object_get_member (object, MU_BUNDLE_SIGNED_TOKEN_SIGNATURES);
	JsonArray *array;
	guint n;

	if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)) {
		token_error (error, "has no array '%s'", MU_BUNDLE_SIGNED_TOKEN_SIGNATURES);
		return NULL;
	}
	array = json_node_get_array (node);
	n = json_array_get_length (array);
	if (n > MU_SIGNED_HEADER_MAX_SIGNATURES) {
		token_error (error, "carries %u signatures, more than the %d accepted", n,
			     MU_SIGNED_HEADER_MAX_SIGNATURES);
		return NULL;
	}
	signatures = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
	for (guint i = 0; i < n; i++) {
		JsonNode *element = json_array_get_element (array, i);
		const gchar *text = NULL;
		g_autoptr (GBytes) sig = NULL;

		if (JSON_NODE_HOLDS_VALUE (element) &&
		    json_node_get_value_type (element) == G_TYPE_STRING)
			text = json_node_get_string (element);
		sig = decode_base64 (text, MU_ED25519_SIGNATURE_LEN);
		if (sig == NULL || g_bytes_get_size (sig) != MU_ED25519_SIGNATURE_LEN) {
			token_error (error, "signature %u is not the canonical base64 of %d bytes",
				     i + 1, MU_ED25519_SIGNATURE_LEN);
			return NULL;
		}
		g_ptr_array_add (signatures, g_steal_pointer (&sig));
	}
	return g_steal_pointer (&signatures);
}

MuSignedToken *
mu_signed_token_parse_json (const gchar *json, GError **error)
{
	static const gchar *const members[] = {
		"type",
		"keyslots",
		MU_BUNDLE_SIGNED_TOKEN_HEADER,
		MU_BUNDLE_SIGNED_TOKEN_SIGNATURES,
	};
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	g_autoptr (GBytes) header = NULL;
	g_autoptr (GPtrArray) signatures = NULL;
	g_autoptr (GList) names = NULL;
	JsonObject *object;
	JsonNode *node;
	const gchar *text;
	MuSignedToken *token;
	gsize len;

	g_return_val_if_fail (json != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	len = strlen (json);
	if (len > TOKEN_JSON_MAX_SIZE) {
		token_error (error,
			     "is %" G_GSIZE_FORMAT " bytes of JSON, more than %" G_GSIZE_FORMAT,
			     len, TOKEN_JSON_MAX_SIZE);
		return NULL;
	}
	if (!mu_json_parser_load_text (parser, json, (gssize) len, NULL) ||
	    (node = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
		token_error (error, "is not a JSON object");
		return NULL;
	}
	object = json_node_get_object (node);
	/* Exactly the four members: nothing a later format adds is silently ignored. */
	names = json_object_get_members (object);
	for (GList *l = names; l != NULL; l = l->next) {
		gboolean known = FALSE;

		for (guint i = 0; i < G_N_ELEMENTS (members); i++)
			known = known || strcmp (l->data, members[i]) == 0;
		if (!known) {
			g_autofree gchar *escaped = mu_escape_untrusted (l->data);
			g_autofree gchar *shown = g_utf8_substring (escaped, 0, 64);

			token_error (error, "has an unknown member \"%s\"", shown);
			return NULL;
		}
	}
	text = token_string (object, "type", error);
	if (text == NULL)
		return NULL;
	if (strcmp (text, MU_BUNDLE_SIGNED_TOKEN_TYPE) != 0) {
		token_error (error, "is of another type");
		return NULL;
	}
	node = json_object_get_member (object, "keyslots");
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) ||
	    json_array_get_length (json_node_get_array (node)) != 0) {
		token_error (error, "is not assigned to an empty list of keyslots");
		return NULL;
	}
	text = token_string (object, MU_BUNDLE_SIGNED_TOKEN_HEADER, error);
	if (text == NULL)
		return NULL;
	header = decode_base64 (text, MU_SIGNED_HEADER_MAX_SIZE);
	if (header == NULL || g_bytes_get_size (header) == 0 ||
	    g_bytes_get_size (header) > MU_SIGNED_HEADER_MAX_SIZE) {
		token_error (error,
			     "member '%s' is not the canonical base64 of 1 to %" G_GSIZE_FORMAT
			     " bytes",
			     MU_BUNDLE_SIGNED_TOKEN_HEADER, MU_SIGNED_HEADER_MAX_SIZE);
		return NULL;
	}
	signatures = parse_signatures (object, error);
	if (signatures == NULL)
		return NULL;

	token = g_new0 (MuSignedToken, 1);
	token->header = g_steal_pointer (&header);
	token->signatures = g_steal_pointer (&signatures);
	return token;
}

GBytes *
mu_signed_token_get_header_bytes (MuSignedToken *token)
{
	g_return_val_if_fail (token != NULL, NULL);
	return token->header;
}

guint
mu_signed_token_get_n_signatures (MuSignedToken *token)
{
	g_return_val_if_fail (token != NULL, 0);
	return token->signatures->len;
}

MuSignedHeader *
mu_signed_token_verify (MuSignedToken *token, MuKeyring *keyring, MuEd25519Key **ret_key,
			GError **error)
{
	g_autoptr (MuEd25519Key) key = NULL;
	g_autoptr (MuSignedHeader) header = NULL;

	g_return_val_if_fail (token != NULL && keyring != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!mu_keyring_verify_signatures (keyring, token->header, token->signatures,
					   "the bundle's signed header", &key, error))
		return NULL;
	header = mu_signed_header_parse (token->header, error);
	if (header == NULL)
		return NULL;
	if (ret_key != NULL)
		*ret_key = g_steal_pointer (&key);
	return g_steal_pointer (&header);
}

MuSignedHeader *
mu_signed_token_peek_header (MuSignedToken *token, GError **error)
{
	g_return_val_if_fail (token != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	return mu_signed_header_parse (token->header, error);
}

static void
add_base64 (JsonBuilder *builder, GBytes *bytes)
{
	gsize len;
	const guint8 *data = g_bytes_get_data (bytes, &len);
	g_autofree gchar *text = g_base64_encode (data, len);

	json_builder_add_string_value (builder, text);
}

gchar *
mu_signed_token_build_json (const MuSignedHeader *header, MuEd25519SecretKey *const *secret_keys,
			    guint n_secret_keys, GError **error)
{
	g_autoptr (JsonBuilder) builder = json_builder_new ();
	g_autoptr (GBytes) bytes = NULL;
	g_autoptr (GPtrArray) signatures = NULL;

	g_return_val_if_fail (header != NULL, NULL);
	g_return_val_if_fail (secret_keys != NULL || n_secret_keys == 0, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (n_secret_keys == 0 || n_secret_keys > MU_SIGNED_HEADER_MAX_SIGNATURES) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "%u signing keys given; give 1 to %d secret keys", n_secret_keys,
			     MU_SIGNED_HEADER_MAX_SIGNATURES);
		return NULL;
	}
	if (!mu_ed25519_secret_keys_check_distinct (secret_keys, n_secret_keys, error))
		return NULL;
	bytes = mu_signed_header_serialize (header, error);
	if (bytes == NULL)
		return NULL;
	signatures = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
	for (guint i = 0; i < n_secret_keys; i++) {
		GBytes *sig = mu_ed25519_secret_key_sign (secret_keys[i], bytes, error);

		if (sig == NULL)
			return NULL;
		g_ptr_array_add (signatures, sig);
	}

	json_builder_begin_object (builder);
	mu_json_builder_add_string_member (builder, "type", MU_BUNDLE_SIGNED_TOKEN_TYPE);
	json_builder_set_member_name (builder, "keyslots");
	json_builder_begin_array (builder);
	json_builder_end_array (builder);
	json_builder_set_member_name (builder, MU_BUNDLE_SIGNED_TOKEN_HEADER);
	add_base64 (builder, bytes);
	json_builder_set_member_name (builder, MU_BUNDLE_SIGNED_TOKEN_SIGNATURES);
	json_builder_begin_array (builder);
	for (guint i = 0; i < signatures->len; i++)
		add_base64 (builder, signatures->pdata[i]);
	json_builder_end_array (builder);
	json_builder_end_object (builder);
	return mu_json_builder_to_line (builder);
}

/* Comparing the live LUKS2 header. */

static gboolean G_GNUC_PRINTF (2, 3) live_error (GError **error, const gchar *format, ...)
{
	g_autofree gchar *what = NULL;
	va_list args;

	va_start (args, format);
	what = g_strdup_vprintf (format, args);
	va_end (args);
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
		     "the LUKS2 header does not match the signed header: %s; the bundle was "
		     "altered after it was signed",
		     what);
	return FALSE;
}

static JsonObject *
get_object (JsonObject *object, const gchar *name)
{
	JsonNode *node = json_object_get_member (object, name);

	return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The integer member @name, or -1 if absent or not an integer. */
static gint64
get_int (JsonObject *object, const gchar *name)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
	    json_node_get_value_type (node) != G_TYPE_INT64)
		return -1;
	return json_node_get_int (node);
}

/* The only member of @object (its name in @out_name), or NULL. */
static JsonObject *
get_only_member (JsonObject *object, const gchar **out_name)
{
	g_autoptr (GList) names = NULL;

	if (object == NULL || json_object_get_size (object) != 1)
		return NULL;
	names = json_object_get_members (object);
	*out_name = names->data;
	return get_object (object, names->data);
}

/* @array is a JSON array holding exactly the one string @value. */
static gboolean
is_array_of (JsonObject *object, const gchar *name, const gchar *value)
{
	JsonNode *node = json_object_get_member (object, name);
	JsonArray *array;
	JsonNode *element;

	if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
		return FALSE;
	array = json_node_get_array (node);
	if (json_array_get_length (array) != 1)
		return FALSE;
	element = json_array_get_element (array, 0);
	return JSON_NODE_HOLDS_VALUE (element) &&
	       json_node_get_value_type (element) == G_TYPE_STRING &&
	       g_strcmp0 (json_node_get_string (element), value) == 0;
}

static gboolean
same_base64 (JsonObject *object, const gchar *name, GBytes *expected)
{
	gsize len;
	const guint8 *data = g_bytes_get_data (expected, &len);
	g_autofree gchar *text = g_base64_encode (data, len);

	return g_strcmp0 (mu_json_object_get_string (object, name), text) == 0;
}

gboolean
mu_signed_header_check_luks (const MuSignedHeader *header, const gchar *luks_json,
			     guint64 file_size, GError **error)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	g_autoptr (GBytes) json_bytes = NULL;
	JsonObject *root;
	JsonObject *segment;
	JsonObject *digest;
	JsonNode *node;
	const gchar *segment_id = NULL;
	const gchar *digest_id = NULL;
	guint64 offset = 0;
	guint64 size = 0;
	guint64 expected_size;

	g_return_val_if_fail (header != NULL && luks_json != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	/* Exactly one segment, of type crypt, its offset and size (0 for "dynamic"). */
	json_bytes = g_bytes_new_static (luks_json, strlen (luks_json));
	if (!mu_luks_parse_segment (json_bytes, &offset, &size, error))
		return FALSE;
	if (size == 0)
		return live_error (error,
				   "the data segment's size is dynamic, the signed size is "
				   "%" G_GUINT64_FORMAT,
				   header->data_size);
	if (offset != header->data_offset)
		return live_error (error,
				   "data segment offset %" G_GUINT64_FORMAT
				   ", signed %" G_GUINT64_FORMAT,
				   offset, header->data_offset);
	if (size != header->data_size)
		return live_error (error,
				   "data segment size %" G_GUINT64_FORMAT
				   ", signed %" G_GUINT64_FORMAT,
				   size, header->data_size);

	if (!mu_json_parser_load_text (parser, luks_json, -1, NULL) ||
	    (node = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (node))
		return live_error (error, "the header JSON does not parse");
	root = json_node_get_object (node);
	segment = get_only_member (get_object (root, "segments"), &segment_id);
	if (segment == NULL)
		return live_error (error, "not exactly one data segment");
	if (g_strcmp0 (mu_json_object_get_string (segment, "encryption"), header->cipher) != 0)
		return live_error (error, "the data segment is not encrypted with %s",
				   header->cipher);
	if (get_int (segment, "sector_size") != header->sector_size)
		return live_error (error, "the data segment's sector size is not %u",
				   header->sector_size);
	if (g_strcmp0 (mu_json_object_get_string (segment, "iv_tweak"), "0") != 0)
		return live_error (error, "the data segment's iv_tweak is not 0");
	if (json_object_has_member (segment, "integrity"))
		return live_error (error, "the data segment has integrity protection");
	node = json_object_get_member (segment, "flags");
	if (node != NULL && (!JSON_NODE_HOLDS_ARRAY (node) ||
			     json_array_get_length (json_node_get_array (node)) != 0))
		return live_error (error, "the data segment has flags");

	digest = get_only_member (get_object (root, "digests"), &digest_id);
	if (digest == NULL)
		return live_error (error, "not exactly one volume key digest");
	if (!is_array_of (digest, "segments", segment_id))
		return live_error (error, "the digest is not for the data segment alone");
	if (g_strcmp0 (mu_json_object_get_string (digest, "type"), header->digest_type) != 0)
		return live_error (error, "the digest is not of type %s", header->digest_type);
	if (g_strcmp0 (mu_json_object_get_string (digest, "hash"), header->digest_hash) != 0)
		return live_error (error, "the digest hash is not %s", header->digest_hash);
	if (get_int (digest, "iterations") != header->digest_iterations)
		return live_error (error, "the digest iterations are not %u",
				   header->digest_iterations);
	if (!same_base64 (digest, "salt", header->digest_salt))
		return live_error (error, "the digest salt differs");
	if (!same_base64 (digest, "digest", header->digest))
		return live_error (error, "the volume key digest differs");

	expected_size = header->hash_offset + mu_signed_header_hash_tree_size (header);
	if (file_size != expected_size)
		return live_error (error,
				   "the file is %" G_GUINT64_FORMAT " bytes, the signed data and "
				   "hash tree end at %" G_GUINT64_FORMAT,
				   file_size, expected_size);
	return TRUE;
}
