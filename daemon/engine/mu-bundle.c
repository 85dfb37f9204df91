/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mu-bundle-format.h"
#include "mu-bundle-private.h"
#include "mu-bundle-v2.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-json.h"

/* Enough to see the primary header and the last possible secondary LUKS2 header magic. */
#define SNIFF_LEN (0x400000 + 4096)

struct _MuBundle {
	gchar *path;   /* the name in messages: the bundle file */
	gchar *device; /* what is read: the file itself, or a loop device over it */
	MuCryptDevice *cd;
	MuBundleInfo info;
	MuPbkdfLimits limits;
	gchar *header_json;   /* crypt_dump_json of the first load */
	GStrv extra_ciphers;  /* accepted besides MU_BUNDLE_CIPHER */
	MuSecret *volume_key; /* from the trial that opened, for mu_bundle_activate() */
};

static void
keyslot_free (MuBundleKeyslot *slot)
{
	g_free (slot->pbkdf_type);
	g_free (slot->pbkdf_hash);
	g_free (slot->key_id);
	g_free (slot);
}

void
mu_bundle_free (MuBundle *bundle)
{
	if (bundle == NULL)
		return;
	g_clear_pointer (&bundle->cd, crypt_free);
	g_clear_pointer (&bundle->volume_key, mu_secret_free);
	g_free (bundle->header_json);
	g_strfreev (bundle->extra_ciphers);
	g_free (bundle->path);
	g_free (bundle->device);
	g_free (bundle->info.label);
	g_free (bundle->info.subsystem);
	g_free (bundle->info.uuid);
	g_free (bundle->info.cipher);
	g_free (bundle->info.cipher_mode);
	g_clear_pointer (&bundle->info.keyslots, g_ptr_array_unref);
	g_free (bundle->info.signed_token_json);
	g_free (bundle);
}

const gchar *
mu_bundle_get_path (MuBundle *bundle)
{
	g_return_val_if_fail (bundle != NULL, NULL);
	return bundle->path;
}

const MuBundleInfo *
mu_bundle_get_info (MuBundle *bundle)
{
	g_return_val_if_fail (bundle != NULL, NULL);
	return &bundle->info;
}

struct crypt_device *
mu_bundle_get_crypt_device (MuBundle *bundle)
{
	g_return_val_if_fail (bundle != NULL, NULL);
	return bundle->cd;
}

const gchar *
mu_bundle_get_device (MuBundle *bundle)
{
	return bundle->device;
}

const gchar *
mu_bundle_get_header_json (MuBundle *bundle)
{
	return bundle->header_json;
}

const gchar *const *
mu_bundle_get_extra_ciphers (MuBundle *bundle)
{
	return (const gchar *const *) bundle->extra_ciphers;
}

void
mu_bundle_set_extra_ciphers (MuBundle *bundle, const gchar *const *ciphers)
{
	g_return_if_fail (bundle != NULL);
	g_strfreev (bundle->extra_ciphers);
	bundle->extra_ciphers = g_strdupv ((GStrv) ciphers);
}

const MuSecret *
mu_bundle_get_volume_key (MuBundle *bundle)
{
	g_return_val_if_fail (bundle != NULL, NULL);
	return bundle->volume_key;
}

void
mu_bundle_take_volume_key (MuBundle *bundle, MuSecret *volume_key)
{
	g_clear_pointer (&bundle->volume_key, mu_secret_free);
	bundle->volume_key = volume_key;
}

gboolean
mu_bundle_activate (MuBundle *bundle, const gchar *name, GError **error)
{
	int r;

	g_return_val_if_fail (bundle != NULL && name != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (bundle->volume_key == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot activate bundle '%s': no key has opened it", bundle->path);
		return FALSE;
	}
	/* PRIVATE: udev's rules skip the mapping, so neither blkid nor udisks2 ever
	 * look at the cleartext; IGNORE_PERSISTENT: flags stored in the (unsigned)
	 * header add nothing to what is asked for here. */
	r = crypt_activate_by_volume_key (bundle->cd, name, (const char *) bundle->volume_key->data,
					  bundle->volume_key->len,
					  CRYPT_ACTIVATE_READONLY | CRYPT_ACTIVATE_PRIVATE |
						  CRYPT_ACTIVATE_IGNORE_PERSISTENT);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot activate dm-crypt mapping %s of bundle '%s': %s (is dm-crypt "
			     "available in the kernel?)",
			     name, bundle->path, g_strerror (-r));
		return FALSE;
	}
	return TRUE;
}

void
mu_pbkdf_limits_init (MuPbkdfLimits *limits)
{
	g_return_if_fail (limits != NULL);
	limits->pbkdf2_max_iterations = MU_PBKDF2_MAX_ITERATIONS_DEFAULT;
	limits->argon2_max_time = MU_ARGON2_MAX_TIME_DEFAULT;
	limits->argon2_max_memory_kib = MU_ARGON2_MAX_MEMORY_KIB_DEFAULT;
	limits->argon2_max_threads = MU_ARGON2_MAX_THREADS_DEFAULT;
	limits->max_trial_seconds = MU_MAX_TRIAL_SECONDS_DEFAULT;
}

void
mu_bundle_set_pbkdf_limits (MuBundle *bundle, const MuPbkdfLimits *limits)
{
	g_return_if_fail (bundle != NULL);
	g_return_if_fail (limits != NULL);
	bundle->limits = *limits;
}

gboolean
mu_pbkdf_limits_allow (const MuPbkdfLimits *limits, const MuBundleKeyslot *slot)
{
	g_return_val_if_fail (limits != NULL, FALSE);
	g_return_val_if_fail (slot != NULL, FALSE);

	if (g_strcmp0 (slot->pbkdf_type, CRYPT_KDF_PBKDF2) == 0)
		return slot->pbkdf_iterations <= limits->pbkdf2_max_iterations;
	if (g_strcmp0 (slot->pbkdf_type, CRYPT_KDF_ARGON2ID) == 0 ||
	    g_strcmp0 (slot->pbkdf_type, CRYPT_KDF_ARGON2I) == 0)
		return slot->pbkdf_iterations <= limits->argon2_max_time &&
		       slot->pbkdf_memory_kib <= limits->argon2_max_memory_kib &&
		       slot->pbkdf_parallel <= limits->argon2_max_threads;
	/* Unknown or unreadable PBKDF: libcryptsetup refuses it itself. */
	return TRUE;
}

const MuPbkdfLimits *
mu_bundle_get_pbkdf_limits (MuBundle *bundle)
{
	g_return_val_if_fail (bundle != NULL, NULL);
	return &bundle->limits;
}

const MuBundleKeyslot *
mu_bundle_info_find_key_id (const MuBundleInfo *info, const gchar *key_id)
{
	g_return_val_if_fail (info != NULL, NULL);
	g_return_val_if_fail (key_id != NULL, NULL);

	for (guint i = 0; i < info->keyslots->len; i++) {
		const MuBundleKeyslot *slot = g_ptr_array_index (info->keyslots, i);

		if (g_strcmp0 (slot->key_id, key_id) == 0)
			return slot;
	}
	return NULL;
}

gboolean
mu_bundle_check_label (const gchar *label, const gchar *subsystem, guint *out_version,
		       GError **error)
{
	/* The header's words go into messages only escaped: they are the stick's text. */
	g_autofree gchar *shown_label = mu_escape_untrusted (label);
	g_autofree gchar *shown_subsystem = mu_escape_untrusted (subsystem);

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (label == NULL || label[0] == '\0') {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
				     "a foreign LUKS2 file (no label, not '" MU_BUNDLE_LUKS_LABEL
				     "'), not a mediaupd bundle; use a bundle made by "
				     "make-encrypted-bundle.sh");
		return FALSE;
	}
	if (g_strcmp0 (label, MU_BUNDLE_LUKS_LABEL) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "a foreign LUKS2 file (label '%s', not '" MU_BUNDLE_LUKS_LABEL
			     "'), not a mediaupd bundle; use a bundle made by "
			     "make-encrypted-bundle.sh",
			     shown_label);
		return FALSE;
	}
	if (g_strcmp0 (subsystem, MU_BUNDLE_LUKS_SUBSYSTEM_V1) == 0) {
		*out_version = 1;
		return TRUE;
	}
	if (g_strcmp0 (subsystem, MU_BUNDLE_LUKS_SUBSYSTEM_V2) == 0) {
		*out_version = MU_BUNDLE_FORMAT_V2;
		return TRUE;
	}
	if (subsystem != NULL && g_str_has_prefix (subsystem, MU_BUNDLE_LUKS_SUBSYSTEM_PREFIX)) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			     "a bundle of format '%s', but this mediaupd reads only "
			     "'" MU_BUNDLE_LUKS_SUBSYSTEM_V1 "' and '" MU_BUNDLE_LUKS_SUBSYSTEM_V2
			     "'; "
			     "update mediaupd or use a bundle of format v2",
			     shown_subsystem);
		return FALSE;
	}
	g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
		     "a LUKS2 file labelled '" MU_BUNDLE_LUKS_LABEL "' whose subsystem '%s' "
		     "names no mediaupd format version, so not a mediaupd bundle; use a bundle "
		     "made by make-encrypted-bundle.sh",
		     shown_subsystem);
	return FALSE;
}

gboolean
mu_bundle_check_format_allowed (const gchar *name, guint version, guint formats, GError **error)
{
	g_return_val_if_fail (name != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (version >= 1 && version < 32 && (formats & MU_BUNDLE_FORMAT_BIT (version)) != 0)
		return TRUE;
	if (version == 1) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			     "'%s' is a bundle of format v1, which is not authenticated before "
			     "the device decrypts it and lets its kernel parse the image, and this "
			     "device accepts only format v2; get a v2 bundle (mediaupd-bundle "
			     "create), or allow v1 with [Bundle] Formats=1;2 in mediaupd.conf",
			     name);
		return FALSE;
	}
	g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
		     "'%s' is a bundle of format v%u, which this device does not accept ([Bundle] "
		     "Formats= in mediaupd.conf); get a bundle of an accepted format",
		     name, version);
	return FALSE;
}

gboolean
mu_bundle_parse_keyid_token (GBytes *json, gchar **out_key_id, GError **error)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	g_autoptr (GError) local_error = NULL;
	JsonNode *root;
	JsonObject *object;
	const gchar *key_id;

	g_return_val_if_fail (json != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_json_parser_load_bytes (parser, json, &local_error)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "The key-id token is not valid JSON: %s", local_error->message);
		return FALSE;
	}
	root = json_parser_get_root (parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "The key-id token is not a JSON object");
		return FALSE;
	}
	object = json_node_get_object (root);
	if (g_strcmp0 (mu_json_object_get_string (object, "type"), MU_BUNDLE_TOKEN_TYPE) != 0) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "The token is not of type '" MU_BUNDLE_TOKEN_TYPE "'");
		return FALSE;
	}
	key_id = mu_json_object_get_string (object, MU_BUNDLE_TOKEN_KEY_ID);
	if (!mu_key_id_is_valid (key_id)) {
		g_autofree gchar *shown = key_id != NULL ? g_strescape (key_id, NULL) : NULL;

		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "The key-id token's '" MU_BUNDLE_TOKEN_KEY_ID "' %s%s%s is no valid "
			     "key id",
			     shown != NULL ? "'" : "(missing)", shown != NULL ? shown : "",
			     shown != NULL ? "'" : "");
		return FALSE;
	}
	*out_key_id = g_strdup (key_id);
	return TRUE;
}

/* The object member @name of @object, or NULL. */
static JsonObject *
get_object (JsonObject *object, const gchar *name)
{
	JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

	return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The integer member @name of @object, or -1. */
static gint64
get_int (JsonObject *object, const gchar *name)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
	    json_node_get_value_type (node) != G_TYPE_INT64)
		return -1;
	return json_node_get_int (node);
}

/* cipher_null in any spelling ("cipher_null-ecb", "cipher_null"): encrypts nothing. */
static gboolean
cipher_is_null (const gchar *cipher)
{
	g_autofree gchar *lower = g_ascii_strdown (cipher, -1);

	return strstr (lower, "null") != NULL;
}

/* @what ("the data segment", "keyslot 3") encrypted with @cipher and a key of
 * @key_size bytes: is that the format's, or an allowed extra? */
static gboolean
check_cipher (const gchar *what, const gchar *cipher, gint64 key_size,
	      const gchar *const *extra_ciphers, GError **error)
{
	g_autofree gchar *shown = NULL;

	if (cipher == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "The LUKS2 header names no encryption for %s; the header is forged or "
			     "damaged, rebuild the bundle with make-encrypted-bundle.sh",
			     what);
		return FALSE;
	}
	if (cipher_is_null (cipher)) {
		shown = g_strescape (cipher, NULL);
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "The LUKS2 header stores %s unencrypted ('%s'), so that any key would "
			     "open it: a forged bundle, refused before any key was tried",
			     what, shown);
		return FALSE;
	}
	if (g_strcmp0 (cipher, MU_BUNDLE_CIPHER) == 0) {
		if (key_size != MU_BUNDLE_KEY_BYTES) {
			g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
				     "%s uses a %" G_GINT64_FORMAT "-bit " MU_BUNDLE_CIPHER
				     " key, but bundles use %d-bit keys; rebuild the bundle with "
				     "make-encrypted-bundle.sh",
				     what, key_size * 8, MU_BUNDLE_KEY_BYTES * 8);
			return FALSE;
		}
		return TRUE;
	}
	if (extra_ciphers != NULL && g_strv_contains (extra_ciphers, cipher)) {
		if (key_size < 32) {
			g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
				     "%s uses a %" G_GINT64_FORMAT "-bit key, shorter than the 256 "
				     "bits accepted; rebuild the bundle",
				     what, key_size * 8);
			return FALSE;
		}
		return TRUE;
	}
	shown = g_strescape (cipher, NULL);
	g_set_error (
		error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
		"%s is encrypted with '%s', which this device does not accept (only " MU_BUNDLE_CIPHER
		"%s); get a bundle made with the default cipher (" MU_BUNDLE_CIPHER
		"), or allow the "
		"cipher in [Unlock] Ciphers= of mediaupd.conf",
		what, shown,
		extra_ciphers != NULL && extra_ciphers[0] != NULL ? " and [Unlock] Ciphers=" : "");
	return FALSE;
}

static gboolean
check_segment_encryption (JsonObject *segments, const gchar *const *extra_ciphers,
			  gint64 volume_key_size, GError **error)
{
	g_autoptr (GList) members = json_object_get_members (segments);
	JsonObject *segment;
	gint64 sector_size;

	if (members == NULL || members->next != NULL ||
	    (segment = get_object (segments, members->data)) == NULL) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "The LUKS2 header does not hold exactly one data segment; "
				     "rebuild the bundle with make-encrypted-bundle.sh");
		return FALSE;
	}
	if (json_object_has_member (segment, "integrity")) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
				     "The bundle's data segment is integrity-protected "
				     "(dm-integrity), which the bundle format does not use; rebuild "
				     "the bundle with make-encrypted-bundle.sh");
		return FALSE;
	}
	sector_size = get_int (segment, "sector_size");
	if (sector_size != MU_BUNDLE_SECTOR_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			     "The bundle's data segment has %" G_GINT64_FORMAT "-byte sectors, "
			     "but bundles use %d-byte sectors; rebuild the bundle with "
			     "make-encrypted-bundle.sh",
			     sector_size, MU_BUNDLE_SECTOR_SIZE);
		return FALSE;
	}
	return check_cipher ("the data segment", mu_json_object_get_string (segment, "encryption"),
			     volume_key_size, extra_ciphers, error);
}

static gboolean
check_keyslot_encryption (const gchar *name, JsonObject *keyslot, const gchar *const *extra_ciphers,
			  GError **error)
{
	g_autofree gchar *what = g_strdup_printf ("keyslot %s", name);
	g_autofree gchar *shown = NULL;
	const gchar *type = keyslot != NULL ? mu_json_object_get_string (keyslot, "type") : NULL;
	JsonObject *area = get_object (keyslot, "area");

	if (g_strcmp0 (type, "luks2") != 0 || area == NULL) {
		shown = g_strescape (type != NULL ? type : "", NULL);
		g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			     "The bundle's %s is of type '%s', not an ordinary luks2 keyslot; "
			     "rebuild the bundle with make-encrypted-bundle.sh",
			     what, shown);
		return FALSE;
	}
	/* The key the keyslot stores: the volume key, or any key when unbound. */
	if (get_int (keyslot, "key_size") <= 0 || get_int (keyslot, "key_size") > 512) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "The bundle's %s has no usable key size; the header is forged or "
			     "damaged, rebuild the bundle",
			     what);
		return FALSE;
	}
	return check_cipher (what, mu_json_object_get_string (area, "encryption"),
			     get_int (area, "key_size"), extra_ciphers, error);
}

gboolean
mu_bundle_check_encryption (GBytes *header_json, guint volume_key_size,
			    const gchar *const *extra_ciphers, GError **error)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	g_autoptr (GList) members = NULL;
	JsonNode *node;
	JsonObject *root;
	JsonObject *segments;
	JsonObject *keyslots;

	g_return_val_if_fail (header_json != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_json_parser_load_bytes (parser, header_json, NULL) ||
	    (node = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "The LUKS2 header JSON does not parse; rebuild the bundle");
		return FALSE;
	}
	root = json_node_get_object (node);
	segments = get_object (root, "segments");
	keyslots = get_object (root, "keyslots");
	if (segments == NULL || keyslots == NULL) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "The LUKS2 header has no segments or keyslots; rebuild the "
				     "bundle");
		return FALSE;
	}
	members = json_object_get_members (keyslots);
	for (GList *l = members; l != NULL; l = l->next) {
		if (!check_keyslot_encryption (l->data, get_object (keyslots, l->data),
					       extra_ciphers, error))
			return FALSE;
	}
	return check_segment_encryption (segments, extra_ciphers, volume_key_size, error);
}

gboolean
mu_bundle_check_own_encryption (MuBundle *bundle, GError **error)
{
	struct crypt_params_integrity integrity = { 0 };
	g_autoptr (GBytes) json = g_bytes_new (bundle->header_json, strlen (bundle->header_json));

	if (!mu_bundle_check_encryption (json, bundle->info.key_size,
					 (const gchar *const *) bundle->extra_ciphers, error)) {
		g_prefix_error (error, "'%s': ", bundle->path);
		return FALSE;
	}
	/* What libcryptsetup itself makes of the header, besides the JSON. */
	if (crypt_get_integrity_info (bundle->cd, &integrity) == 0 &&
	    (integrity.integrity != NULL || integrity.tag_size != 0)) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			     "'%s': the data segment is integrity-protected (%s), which the bundle "
			     "format does not use; rebuild the bundle with make-encrypted-bundle.sh",
			     bundle->path,
			     integrity.integrity != NULL ? integrity.integrity : "tags");
		return FALSE;
	}
	return TRUE;
}

/* Opens @path just to learn its kind and size; libcryptsetup reads it itself. */
static gboolean
stat_bundle_file (const gchar *path, guint64 *out_size, GError **error)
{
	struct stat st;
	off_t end;
	int fd;

	fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		mu_error_set_errno (error, errno, "Cannot open bundle '%s'", path);
		return FALSE;
	}
	if (fstat (fd, &st) != 0 || (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))) {
		close (fd);
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' is not a regular file, so it is not a bundle", path);
		return FALSE;
	}
	/* Regular files and block devices alike. */
	end = lseek (fd, 0, SEEK_END);
	close (fd);
	if (end < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "Cannot find the size of '%s'", path);
		return FALSE;
	}
	*out_size = (guint64) end;
	return TRUE;
}

/* The first bytes of @path, to tell a damaged LUKS2 header from something else. */
static GBytes *
read_head (const gchar *path)
{
	g_autofree guint8 *buf = g_malloc (SNIFF_LEN);
	gsize len = 0;
	int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return g_bytes_new (NULL, 0);
	while (len < SNIFF_LEN) {
		ssize_t n = pread (fd, buf + len, SNIFF_LEN - len, (off_t) len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (gsize) n;
	}
	close (fd);
	return g_bytes_new_take (g_steal_pointer (&buf), len);
}

static gboolean
load_error (const gchar *device, const gchar *path, int r, GError **error)
{
	g_autoptr (GBytes) head = read_head (device);

	switch (mu_luks_sniff (head)) {
	case MU_LUKS_MAGIC_LUKS2:
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' has a damaged or truncated LUKS2 header (%s); copy or "
			     "download the bundle again",
			     path, g_strerror (-r));
		return FALSE;
	case MU_LUKS_MAGIC_LUKS1:
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' is a LUKS1 container, not a mediaupd bundle (bundles are LUKS2); "
			     "use a bundle made by make-encrypted-bundle.sh",
			     path);
		return FALSE;
	case MU_LUKS_MAGIC_NONE:
	default:
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' is not a mediaupd bundle (no LUKS2 header); use a bundle made by "
			     "make-encrypted-bundle.sh",
			     path);
		return FALSE;
	}
}

static gboolean
check_requirements (MuBundle *bundle, GError **error)
{
	guint32 requirements = 0;

	if (crypt_persistent_flags_get (bundle->cd, CRYPT_FLAGS_REQUIREMENTS, &requirements) < 0 ||
	    requirements != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' is an unfinished LUKS2 container (reencryption not completed, "
			     "requirements 0x%x); rebuild the bundle",
			     bundle->path, requirements);
		return FALSE;
	}
	return TRUE;
}

/* Data segment placement and size against the file: catches truncation. */
static gboolean
read_data_segment (MuBundle *bundle, GError **error)
{
	MuBundleInfo *info = &bundle->info;
	const gchar *json = NULL;
	g_autoptr (GBytes) bytes = NULL;
	guint64 offset = 0;
	guint64 size = 0;
	int r;

	r = crypt_dump_json (bundle->cd, &json, 0);
	if (r < 0 || json == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "Cannot read the LUKS2 metadata of '%s': %s", bundle->path,
			     g_strerror (-r));
		return FALSE;
	}
	bundle->header_json = g_strdup (json);
	bytes = g_bytes_new (json, strlen (json));
	if (!mu_luks_parse_segment (bytes, &offset, &size, error)) {
		g_prefix_error (error, "'%s': ", bundle->path);
		return FALSE;
	}
	if (offset != crypt_get_data_offset (bundle->cd) * 512 || info->sector_size == 0 ||
	    offset % info->sector_size != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' has an inconsistent LUKS2 data offset; rebuild the bundle",
			     bundle->path);
		return FALSE;
	}
	info->data_offset = offset;
	info->data_size_dynamic = size == 0;
	if (info->file_size <= offset) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' is truncated: it ends at byte %" G_GUINT64_FORMAT ", before its "
			     "data starts (byte %" G_GUINT64_FORMAT "); copy the bundle again",
			     bundle->path, info->file_size, offset);
		return FALSE;
	}
	if (info->data_size_dynamic)
		size = info->file_size - offset;
	if (info->file_size - offset < size) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' is truncated: its data segment needs %" G_GUINT64_FORMAT
			     " bytes but the file holds %" G_GUINT64_FORMAT
			     "; copy the bundle again",
			     bundle->path, size, info->file_size - offset);
		return FALSE;
	}
	if (size % info->sector_size != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' is truncated: its %" G_GUINT64_FORMAT " bytes of data are not a "
			     "whole number of %u-byte sectors; copy the bundle again",
			     bundle->path, size, info->sector_size);
		return FALSE;
	}
	info->data_size = size;
	return TRUE;
}

static MuBundleKeyslot *
read_keyslot (struct crypt_device *cd, gint slot, crypt_keyslot_info status)
{
	MuBundleKeyslot *ks = g_new0 (MuBundleKeyslot, 1);
	struct crypt_pbkdf_type pbkdf = { 0 };

	ks->slot = slot;
	ks->status = status == CRYPT_SLOT_UNBOUND ? MU_BUNDLE_KEYSLOT_UNBOUND
						  : MU_BUNDLE_KEYSLOT_ACTIVE;
	ks->priority = crypt_keyslot_get_priority (cd, slot);
	ks->token = -1;
	if (crypt_keyslot_get_pbkdf (cd, slot, &pbkdf) == 0) {
		ks->pbkdf_type = g_strdup (pbkdf.type);
		if (g_strcmp0 (pbkdf.type, CRYPT_KDF_PBKDF2) == 0)
			ks->pbkdf_hash = g_strdup (pbkdf.hash);
		ks->pbkdf_iterations = pbkdf.iterations;
		ks->pbkdf_memory_kib = pbkdf.max_memory_kb;
		ks->pbkdf_parallel = pbkdf.parallel_threads;
	}
	return ks;
}

/* One mediaupd-keyid token: hints are an optimisation, so a bad one is skipped. */
static void
read_token (MuBundle *bundle, gint token)
{
	g_autoptr (GError) local_error = NULL;
	g_autoptr (GBytes) bytes = NULL;
	g_autofree gchar *key_id = NULL;
	MuBundleKeyslot *target = NULL;
	const gchar *json = NULL;
	guint n_assigned = 0;

	if (crypt_token_json_get (bundle->cd, token, &json) < 0 || json == NULL)
		return;
	bytes = g_bytes_new (json, strlen (json));
	if (!mu_bundle_parse_keyid_token (bytes, &key_id, &local_error)) {
		g_message ("Bundle '%s': ignoring token %d: %s", bundle->path, token,
			   local_error->message);
		return;
	}
	for (guint i = 0; i < bundle->info.keyslots->len; i++) {
		MuBundleKeyslot *ks = g_ptr_array_index (bundle->info.keyslots, i);

		if (crypt_token_is_assigned (bundle->cd, token, ks->slot) == 0) {
			target = ks;
			n_assigned++;
		}
	}
	if (n_assigned != 1 || target->key_id != NULL) {
		g_message ("Bundle '%s': ignoring key-id token %d ('%s'): it must name exactly one "
			   "keyslot that no other token names",
			   bundle->path, token, key_id);
		return;
	}
	target->token = token;
	target->key_id = g_steal_pointer (&key_id);
}

/* A mediaupd-signed token: counted, and the first one kept for the v2 checks. */
static void
read_signed_token (MuBundle *bundle, gint token)
{
	const gchar *json = NULL;

	bundle->info.n_signed_tokens++;
	if (bundle->info.signed_token_json == NULL &&
	    crypt_token_json_get (bundle->cd, token, &json) >= 0 && json != NULL)
		bundle->info.signed_token_json = g_strdup (json);
}

static void
read_keyslots (MuBundle *bundle)
{
	MuBundleInfo *info = &bundle->info;
	gint max_slots = crypt_keyslot_max (CRYPT_LUKS2);
	gint max_tokens = crypt_token_max (CRYPT_LUKS2);

	info->keyslots = g_ptr_array_new_with_free_func ((GDestroyNotify) keyslot_free);
	for (gint slot = 0; slot < max_slots; slot++) {
		crypt_keyslot_info status = crypt_keyslot_status (bundle->cd, slot);

		if (status == CRYPT_SLOT_ACTIVE || status == CRYPT_SLOT_ACTIVE_LAST ||
		    status == CRYPT_SLOT_UNBOUND)
			g_ptr_array_add (info->keyslots, read_keyslot (bundle->cd, slot, status));
	}
	for (gint token = 0; token < max_tokens; token++) {
		const gchar *type = NULL;
		g_autofree gchar *type_copy = NULL;
		crypt_token_info status = crypt_token_status (bundle->cd, token, &type);

		if (status == CRYPT_TOKEN_INVALID || status == CRYPT_TOKEN_INACTIVE)
			continue;
		/* @type is only valid until the next libcryptsetup call. */
		type_copy = g_strdup (type);
		if (g_strcmp0 (type_copy, MU_BUNDLE_TOKEN_TYPE) == 0)
			read_token (bundle, token);
		else if (g_strcmp0 (type_copy, MU_BUNDLE_SIGNED_TOKEN_TYPE) == 0)
			read_signed_token (bundle, token);
	}
}

static gboolean
read_header (MuBundle *bundle, GError **error)
{
	MuBundleInfo *info = &bundle->info;
	int r;

	r = crypt_load (bundle->cd, CRYPT_LUKS2, NULL);
	if (r < 0)
		return load_error (bundle->device, bundle->path, r, error);

	info->label = g_strdup (crypt_get_label (bundle->cd));
	info->subsystem = g_strdup (crypt_get_subsystem (bundle->cd));
	if (!mu_bundle_check_label (info->label, info->subsystem, &info->format_version, error)) {
		g_prefix_error (error, "'%s' is ", bundle->path);
		return FALSE;
	}
	if (!check_requirements (bundle, error))
		return FALSE;

	info->uuid = g_strdup (crypt_get_uuid (bundle->cd));
	info->cipher = g_strdup (crypt_get_cipher (bundle->cd));
	info->cipher_mode = g_strdup (crypt_get_cipher_mode (bundle->cd));
	info->key_size = (guint) MAX (crypt_get_volume_key_size (bundle->cd), 0);
	info->sector_size = (guint) MAX (crypt_get_sector_size (bundle->cd), 0);
	if (!read_data_segment (bundle, error))
		return FALSE;
	read_keyslots (bundle);
	return TRUE;
}

MuBundle *
mu_bundle_open_device (const gchar *device, const gchar *name, GError **error)
{
	g_autoptr (MuBundle) bundle = NULL;
	int r;

	g_return_val_if_fail (device != NULL && name != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	mu_luks_init ();
	bundle = g_new0 (MuBundle, 1);
	bundle->path = g_strdup (name);
	bundle->device = g_strdup (device);
	mu_pbkdf_limits_init (&bundle->limits);
	if (!stat_bundle_file (device, &bundle->info.file_size, error))
		return NULL;

	r = crypt_init (&bundle->cd, device);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "Cannot open bundle '%s': %s", name,
			     g_strerror (-r));
		return NULL;
	}
	mu_luks_set_device_logging (bundle->cd);
	if (!read_header (bundle, error))
		return NULL;
	return g_steal_pointer (&bundle);
}

MuBundle *
mu_bundle_open (const gchar *path, GError **error)
{
	return mu_bundle_open_device (path, path, error);
}
