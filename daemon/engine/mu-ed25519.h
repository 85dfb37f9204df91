/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Ed25519 keys in OSTree's file formats, and a keyring of trusted minus revoked keys.
 *
 * Public key files (trusted.ed25519, revoked.ed25519 and every file in the matching .d/
 * directories): text, one base64-encoded 32-byte public key per line. Blank lines are
 * skipped; anything else that is not a canonical base64 32-byte key is an error
 * (MU_ERROR_INVALID_KEY naming the file and line), and so is a file without any key.
 *
 * Secret key files: base64 of 64 bytes, the 32-byte seed followed by the 32-byte public
 * key (libsodium's layout, as ostree uses it). The public half must match the seed.
 *
 * The key id of a public key is its base64 text (44 characters), as it appears in the key
 * files: it names one key unambiguously and can be grepped for. The origin says where the
 * key was read ("FILE:LINE"), for messages only.
 *
 * Parsers take GBytes and a name for messages; the *_load_* functions do the file I/O.
 */

/* Key files are small; anything larger than this is refused rather than read. */
#define MU_ED25519_KEY_FILE_MAX_SIZE (1024 * 1024)

/* An immutable public key with its id and origin (reference counted). */
typedef struct _MuEd25519Key MuEd25519Key;

MuEd25519Key *mu_ed25519_key_new (const guint8 *raw, gsize len, const gchar *origin,
				  GError **error) G_GNUC_WARN_UNUSED_RESULT;
MuEd25519Key *mu_ed25519_key_ref (MuEd25519Key *key);
void mu_ed25519_key_unref (MuEd25519Key *key);
/* The 32 raw bytes. */
const guint8 *mu_ed25519_key_get_raw (MuEd25519Key *key);
/* The base64 text of the key, e.g. "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=". */
const gchar *mu_ed25519_key_get_id (MuEd25519Key *key);
/* Where the key came from, "FILE:LINE" (or what the creator passed). */
const gchar *mu_ed25519_key_get_origin (MuEd25519Key *key);
gboolean mu_ed25519_key_equal (MuEd25519Key *a, MuEd25519Key *b);
/* TRUE if @signature (64 bytes) is a valid Ed25519 signature of @data by @key. */
gboolean mu_ed25519_key_verify (MuEd25519Key *key, const guint8 *data, gsize data_len,
				const guint8 *signature, gsize signature_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuEd25519Key, mu_ed25519_key_unref)

/* Parse a public key file: returns an array of MuEd25519Key (at least one). */
GPtrArray *mu_ed25519_parse_public_keys (GBytes *contents, const gchar *file_name,
					 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* A secret key (seed and public key); its memory is wiped when freed. */
typedef struct _MuEd25519SecretKey MuEd25519SecretKey;

MuEd25519SecretKey *mu_ed25519_secret_key_generate (GError **error) G_GNUC_WARN_UNUSED_RESULT;
MuEd25519SecretKey *mu_ed25519_secret_key_parse (GBytes *contents, const gchar *file_name,
						 GError **error) G_GNUC_WARN_UNUSED_RESULT;
MuEd25519SecretKey *mu_ed25519_secret_key_load (const gchar *path,
						GError **error) G_GNUC_WARN_UNUSED_RESULT;
void mu_ed25519_secret_key_free (MuEd25519SecretKey *secret);
/* The public half (origin: the secret key's file name). */
MuEd25519Key *mu_ed25519_secret_key_get_public (MuEd25519SecretKey *secret);
/* Sign @data; returns the 64-byte signature. */
GBytes *mu_ed25519_secret_key_sign (MuEd25519SecretKey *secret, GBytes *data,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* The secret key file contents ("BASE64\n"); the bytes are wiped when the GBytes is freed. */
GBytes *mu_ed25519_secret_key_to_file_contents (MuEd25519SecretKey *secret);
/* The public key file contents for @key ("BASE64\n"). */
GBytes *mu_ed25519_key_to_file_contents (MuEd25519Key *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuEd25519SecretKey, mu_ed25519_secret_key_free)

/* MU_ERROR_INVALID_ARGUMENT naming the key if one of @secret_keys is given twice. */
gboolean mu_ed25519_secret_keys_check_distinct (MuEd25519SecretKey *const *secret_keys,
						guint n_secret_keys,
						GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Read a key file (public or secret) into memory: at most MU_ED25519_KEY_FILE_MAX_SIZE
 * bytes, wiped when the GBytes is freed. A missing file is MU_ERROR_NOT_FOUND.
 */
GBytes *mu_ed25519_read_key_file (const gchar *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
