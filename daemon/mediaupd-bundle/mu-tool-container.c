/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mu-bundle-format.h"
#include "mu-delta.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-tool-container.h"
#include "mu-tool-crypt.h"
#include "mu-tool-luks2.h"
#include "mu-tool.h"

#define PBKDF2_MIN_ITERATIONS 1000
#define ARGON2_MIN_TIME 4

void
mu_tool_pbkdf_clear (MuToolPbkdf *pbkdf)
{
	g_clear_pointer (&pbkdf->type, g_free);
}

gboolean
mu_tool_pbkdf_from_options (MuToolPbkdf *pbkdf, const gchar *type, gint iterations, gint memory_kib,
			    gint parallel, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (type == NULL || g_str_equal (type, "pbkdf2")) {
		if (memory_kib != 0 || parallel != 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "--pbkdf-memory and --pbkdf-parallel apply to argon2id only: "
				     "add --pbkdf argon2id or drop them");
			return FALSE;
		}
		if (iterations == 0)
			iterations = PBKDF2_MIN_ITERATIONS;
		if (iterations < PBKDF2_MIN_ITERATIONS) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "--pbkdf-iterations %d is not valid for pbkdf2: give a number "
				     ">= %d (LUKS2 minimum)",
				     iterations, PBKDF2_MIN_ITERATIONS);
			return FALSE;
		}
		pbkdf->type = g_strdup ("pbkdf2");
		pbkdf->iterations = (guint32) iterations;
		return TRUE;
	}
	if (!g_str_equal (type, "argon2id")) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "unknown --pbkdf '%s': use pbkdf2 or argon2id", type);
		return FALSE;
	}
	if (iterations == 0)
		iterations = ARGON2_MIN_TIME;
	if (memory_kib == 0)
		memory_kib = 65536;
	if (parallel == 0)
		parallel = 1;
	if (iterations < ARGON2_MIN_TIME) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "--pbkdf-iterations %d is not valid for argon2id: give a time cost "
			     ">= %d",
			     iterations, ARGON2_MIN_TIME);
		return FALSE;
	}
	if (memory_kib < 32 || memory_kib > 4194304) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "--pbkdf-memory %d is not valid: give KiB between 32 and 4194304, "
			     "within the weakest device's free memory",
			     memory_kib);
		return FALSE;
	}
	if (parallel < 1 || parallel > 16) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "--pbkdf-parallel %d is not valid: give 1..16 (at most the weakest "
			     "device's CPU count)",
			     parallel);
		return FALSE;
	}
	pbkdf->type = g_strdup ("argon2id");
	pbkdf->iterations = (guint32) iterations;
	pbkdf->memory_kib = (guint32) memory_kib;
	pbkdf->parallel = (guint32) parallel;
	return TRUE;
}

gchar *
mu_tool_pbkdf_describe (const MuToolPbkdf *pbkdf)
{
	if (g_str_equal (pbkdf->type, "pbkdf2"))
		return g_strdup_printf ("pbkdf2-sha256, %u iterations", pbkdf->iterations);
	return g_strdup_printf ("%s, time cost %u, %u KiB, %u thread(s)", pbkdf->type,
				pbkdf->iterations, pbkdf->memory_kib, pbkdf->parallel);
}

void
mu_tool_pbkdf_to_crypt (const MuToolPbkdf *pbkdf, struct crypt_pbkdf_type *out)
{
	memset (out, 0, sizeof *out);
	out->type = g_str_equal (pbkdf->type, "pbkdf2") ? CRYPT_KDF_PBKDF2 : CRYPT_KDF_ARGON2ID;
	out->hash = "sha256";
	out->iterations = pbkdf->iterations;
	out->max_memory_kb = pbkdf->memory_kib;
	out->parallel_threads = pbkdf->parallel;
	out->flags = CRYPT_PBKDF_NO_BENCHMARK;
}

MuKey *
mu_tool_load_key (const gchar *id, const gchar *path, GError **error)
{
	g_autoptr (GBytes) data = NULL;
	MuKey *key;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!mu_key_id_is_valid (id)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "key id '%s' is not valid: a key id is 1..%d characters of A-Z a-z "
			     "0-9 . _ - and does not start with '.' (e.g. main-2026)",
			     id, MU_KEY_ID_MAX_LEN);
		return NULL;
	}
	if (!mu_tool_check_secret_path ("key file", path, error)) {
		g_prefix_error (error, "key id '%s': ", id);
		return NULL;
	}
	data = mu_file_read_regular (path, MU_LUKS_KEY_MAX_LEN, MU_FILE_WIPE, MU_ERROR_INVALID_KEY,
				     error);
	if (data == NULL) {
		g_prefix_error (error, "key file for key id '%s': ", id);
		return NULL;
	}
	key = mu_key_new (id, g_bytes_get_data (data, NULL), g_bytes_get_size (data), error);
	if (key == NULL)
		g_prefix_error (error, "key file for key id '%s': ", id);
	return key;
}

MuKey *
mu_tool_load_key_spec (const gchar *spec, GError **error)
{
	const gchar *eq = strchr (spec, '=');
	g_autofree gchar *id = NULL;

	if (eq == NULL || eq == spec || eq[1] == '\0') {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "a key is given as ID=FILE, e.g. main-2026=keys/main-2026.key (got no "
			     "'=' with an id before and a file after it)");
		return NULL;
	}
	id = g_strndup (spec, (gsize) (eq - spec));
	return mu_tool_load_key (id, eq + 1, error);
}

guint64
mu_tool_container_data_offset (guint keyslot_room)
{
	return 2 * (guint64) MU_BUNDLE_V2_METADATA_SIZE +
	       (guint64) keyslot_room * MU_BUNDLE_KEYSLOT_AREA_SIZE;
}

struct crypt_device *
mu_tool_container_format (const gchar *path, int fd, guint keyslot_room, guint64 data_size,
			  const MuToolCipher *cipher, const MuSecret *volume_key, GError **error)
{
	g_autoptr (MuCryptDevice) cd = NULL;
	guint64 data_offset = mu_tool_container_data_offset (keyslot_room);
	struct crypt_params_luks2 params = {
		.sector_size = MU_TOOL_SECTOR_SIZE,
		.label = MU_BUNDLE_LUKS_LABEL,
		.subsystem = MU_BUNDLE_LUKS_SUBSYSTEM_V2,
	};
	int r;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	mu_luks_init ();
	r = crypt_init (&cd, path);
	if (r < 0) {
		mu_error_set_errno (error, -r, "cannot open '%s' for the LUKS2 header", path);
		return NULL;
	}
	mu_luks_set_device_logging (cd);
	r = crypt_set_metadata_size (cd, MU_BUNDLE_V2_METADATA_SIZE,
				     (guint64) keyslot_room * MU_BUNDLE_KEYSLOT_AREA_SIZE);
	if (r == 0)
		r = crypt_set_data_offset (cd, data_offset / 512);
	if (r == 0)
		r = crypt_format (cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL,
				  (const char *) volume_key->data, volume_key->len, &params);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot write the LUKS2 header (libcryptsetup: %s)", g_strerror (-r));
		return NULL;
	}
	g_clear_pointer (&cd, crypt_free);
	/* libcryptsetup makes the segment run to the end of the file ("dynamic"); in v2 it ends
	 * where the hash tree begins. The header is formatted with aes-xts-plain64 (with the
	 * volume key of @cipher: the digest and the keyslots do not depend on the cipher), since
	 * crypt_format test-encrypts with the data cipher and has no Adiantum without
	 * device-mapper or AF_ALG; the segment then names @cipher. */
	if (!mu_tool_luks2_set_segment (fd, data_size,
					g_str_equal (cipher->spec, "aes-xts-plain64")
						? NULL
						: cipher->spec,
					error))
		return NULL;
	return mu_tool_luks2_load (path, error);
}

gboolean
mu_tool_container_add_key (struct crypt_device *cd, const MuKey *key, const MuSecret *volume_key,
			   const struct crypt_pbkdf_type *pbkdf, gint *ret_slot, GError **error)
{
	g_autofree gchar *token = NULL;
	int slot;
	int r;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	r = crypt_set_pbkdf_type (cd, pbkdf);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "libcryptsetup refuses the PBKDF %s (%s)", pbkdf->type,
			     g_strerror (-r));
		return FALSE;
	}
	r = crypt_keyslot_set_encryption (cd, MU_TOOL_KEYSLOT_CIPHER, MU_TOOL_XTS_KEY_LEN);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "libcryptsetup refuses the keyslot cipher " MU_TOOL_KEYSLOT_CIPHER
			     " (%s)",
			     g_strerror (-r));
		return FALSE;
	}
	slot = crypt_keyslot_add_by_volume_key (cd, CRYPT_ANY_SLOT, (const char *) volume_key->data,
						volume_key->len, (const char *) key->data,
						key->len);
	if (slot < 0) {
		gboolean full = slot == -ENOSPC || slot == -EINVAL;

		g_set_error (
			error, MU_ERROR, full ? MU_ERROR_INVALID_ARGUMENT : MU_ERROR_FAILED,
			"cannot add a keyslot for the key '%s' (%s)%s", key->id, g_strerror (-slot),
			full ? ": the header's keyslot room is probably full (see libcryptsetup's "
			       "message; 'create --keyslot-room' sets it); remove a key with "
			       "'rekey --remove' first"
			     : "");
		return FALSE;
	}
	token = mu_tool_keyid_token_json (slot, key->id);
	r = crypt_token_json_set (cd, CRYPT_ANY_TOKEN, token);
	if (r < 0) {
		(void) crypt_keyslot_destroy (cd, slot);
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot add the key-id token for '%s' (%s)", key->id, g_strerror (-r));
		return FALSE;
	}
	*ret_slot = slot;
	return TRUE;
}

static gboolean
get_u64_string (JsonObject *o, const gchar *name, guint64 *out)
{
	const gchar *text = json_object_get_string_member_with_default (o, name, NULL);

	return text != NULL && g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, out, NULL);
}

static GBytes *
get_base64 (JsonObject *o, const gchar *name)
{
	const gchar *text = json_object_get_string_member_with_default (o, name, NULL);
	guchar *data;
	gsize len = 0;

	if (text == NULL)
		return NULL;
	data = g_base64_decode (text, &len);
	return g_bytes_new_take (data, len);
}

gboolean
mu_tool_container_fill_header (JsonNode *dump, MuSignedHeader *header, GError **error)
{
	JsonObject *root = json_node_get_object (dump);
	JsonObject *segments = json_object_get_object_member (root, "segments");
	JsonObject *digests = json_object_get_object_member (root, "digests");
	JsonObject *segment = segments != NULL ? json_object_get_object_member (segments, "0")
					       : NULL;
	JsonObject *digest = digests != NULL ? json_object_get_object_member (digests, "0") : NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (segment == NULL || digest == NULL ||
	    !get_u64_string (segment, "offset", &header->data_offset) ||
	    !get_u64_string (segment, "size", &header->data_size)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the LUKS2 header has no fixed data segment 0 and digest 0");
		return FALSE;
	}
	g_free (header->cipher);
	header->cipher = g_strdup (
		json_object_get_string_member_with_default (segment, "encryption", ""));
	header->sector_size = (guint32) json_object_get_int_member_with_default (segment,
										 "sector_size", 0);
	g_free (header->digest_type);
	header->digest_type = g_strdup (
		json_object_get_string_member_with_default (digest, "type", ""));
	g_free (header->digest_hash);
	header->digest_hash = g_strdup (
		json_object_get_string_member_with_default (digest, "hash", ""));
	header->digest_iterations = (guint32) json_object_get_int_member_with_default (digest,
										       "iterations",
										       0);
	g_clear_pointer (&header->digest_salt, g_bytes_unref);
	header->digest_salt = get_base64 (digest, "salt");
	g_clear_pointer (&header->digest, g_bytes_unref);
	header->digest = get_base64 (digest, "digest");
	if (header->digest_salt == NULL || header->digest == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the LUKS2 digest 0 has no salt or digest");
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_tool_header_fill_update (MuSignedHeader *header, const MuToolCommits *commits,
			    GBytes *superblock, GError **error)
{
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (superblock, error);

	if (info == NULL) {
		g_prefix_error (error, "the generated delta: ");
		return FALSE;
	}
	if (g_strcmp0 (info->to_commit, commits->to_commit) != 0 ||
	    g_strcmp0 (info->from_commit, commits->from_commit) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the generated delta is not from %s to %s",
			     commits->from_commit != NULL ? commits->from_commit : "empty",
			     commits->to_commit);
		return FALSE;
	}
	header->os_id = g_strdup (commits->os->id != NULL ? commits->os->id : "");
	header->os_variant_id = g_strdup (commits->os->variant_id != NULL ? commits->os->variant_id
									  : "");
	header->ref = g_strdup (commits->ref);
	header->collection_binding = g_strdup (
		info->collection_binding != NULL ? info->collection_binding : "");
	header->ref_bindings = info->ref_bindings != NULL ? g_strdupv (info->ref_bindings)
							  : g_new0 (gchar *, 1);
	header->to_commit = g_strdup (info->to_commit);
	header->from_commit = g_strdup (info->from_commit != NULL ? info->from_commit : "");
	header->version = g_strdup (info->version != NULL ? info->version : "");
	header->timestamp = info->timestamp;
	header->total_compressed = info->total_compressed;
	header->total_uncompressed = info->total_uncompressed;
	return TRUE;
}
