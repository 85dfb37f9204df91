/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-file.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)

/* Base64 text of a 32-byte key: 44 characters. */
#define PUBLIC_KEY_B64_LEN 44

struct _MuEd25519Key {
	guint8 raw[MU_ED25519_PUBLIC_KEY_LEN];
	gchar *id;
	gchar *origin;
};

struct _MuEd25519SecretKey {
	EVP_PKEY *pkey;
	MuEd25519Key *public_key;
};

/* ---- memory that held secrets ---- */

static void
wipe_and_free (gpointer data, gsize len)
{
	if (data == NULL)
		return;
	OPENSSL_cleanse (data, len);
	g_free (data);
}

typedef struct {
	gpointer data;
	gsize len;
} WipeBlock;

static void
wipe_block_free (gpointer user_data)
{
	WipeBlock *block = user_data;

	wipe_and_free (block->data, block->len);
	g_free (block);
}

/* A GBytes owning @data (g_malloc'ed, @len bytes), wiped when the last reference goes. */
static GBytes *
bytes_new_take_wiped (gpointer data, gsize len)
{
	WipeBlock *block = g_new0 (WipeBlock, 1);

	block->data = data;
	block->len = len;
	return g_bytes_new_with_free_func (data, len, wipe_block_free, block);
}

/* ---- public keys ---- */

static void
key_clear (gpointer data)
{
	MuEd25519Key *key = data;

	g_free (key->id);
	g_free (key->origin);
}

MuEd25519Key *
mu_ed25519_key_new (const guint8 *raw, gsize len, const gchar *origin, GError **error)
{
	MuEd25519Key *key;

	g_return_val_if_fail (raw != NULL || len == 0, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (len != MU_ED25519_PUBLIC_KEY_LEN) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "%s: an ed25519 public key is %d bytes, not %" G_GSIZE_FORMAT,
			     origin != NULL ? origin : "key", MU_ED25519_PUBLIC_KEY_LEN, len);
		return NULL;
	}
	key = g_atomic_rc_box_new0 (MuEd25519Key);
	memcpy (key->raw, raw, len);
	key->id = g_base64_encode (raw, len);
	key->origin = g_strdup (origin != NULL ? origin : key->id);
	return key;
}

MuEd25519Key *
mu_ed25519_key_ref (MuEd25519Key *key)
{
	g_return_val_if_fail (key != NULL, NULL);
	return g_atomic_rc_box_acquire (key);
}

void
mu_ed25519_key_unref (MuEd25519Key *key)
{
	if (key != NULL)
		g_atomic_rc_box_release_full (key, key_clear);
}

const guint8 *
mu_ed25519_key_get_raw (MuEd25519Key *key)
{
	g_return_val_if_fail (key != NULL, NULL);
	return key->raw;
}

const gchar *
mu_ed25519_key_get_id (MuEd25519Key *key)
{
	g_return_val_if_fail (key != NULL, NULL);
	return key->id;
}

const gchar *
mu_ed25519_key_get_origin (MuEd25519Key *key)
{
	g_return_val_if_fail (key != NULL, NULL);
	return key->origin;
}

gboolean
mu_ed25519_key_equal (MuEd25519Key *a, MuEd25519Key *b)
{
	g_return_val_if_fail (a != NULL && b != NULL, FALSE);
	return memcmp (a->raw, b->raw, sizeof a->raw) == 0;
}

gboolean
mu_ed25519_key_verify (MuEd25519Key *key, const guint8 *data, gsize data_len,
		       const guint8 *signature, gsize signature_len)
{
	g_autoptr (EVP_PKEY) pkey = NULL;
	g_autoptr (EVP_MD_CTX) ctx = NULL;
	gboolean ok;

	g_return_val_if_fail (key != NULL, FALSE);
	g_return_val_if_fail (data != NULL || data_len == 0, FALSE);

	if (signature == NULL || signature_len != MU_ED25519_SIGNATURE_LEN)
		return FALSE;
	pkey = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, key->raw, sizeof key->raw);
	ctx = EVP_MD_CTX_new ();
	/* OpenSSL wants a non-NULL pointer even for an empty message. */
	ok = pkey != NULL && ctx != NULL &&
	     EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pkey) == 1 &&
	     EVP_DigestVerify (ctx, signature, signature_len, data != NULL ? data : signature,
			       data_len) == 1;
	ERR_clear_error ();
	return ok;
}

GBytes *
mu_ed25519_key_to_file_contents (MuEd25519Key *key)
{
	g_return_val_if_fail (key != NULL, NULL);
	return g_bytes_new_take (g_strconcat (key->id, "\n", NULL), strlen (key->id) + 1);
}

/* ---- parsing key files ---- */

typedef struct {
	const gchar *start;
	gsize len;
	guint number;
} Line;

/* Next line of @data from *@pos, without its end of line and surrounding blanks. */
static gboolean
next_line (const gchar *data, gsize size, gsize *pos, guint *line_no, Line *ret_line)
{
	const gchar *start;
	const gchar *nl;
	gsize len;

	if (*pos >= size)
		return FALSE;
	start = data + *pos;
	nl = memchr (start, '\n', size - *pos);
	len = nl != NULL ? (gsize) (nl - start) : size - *pos;
	*pos += len + 1;
	*line_no += 1;
	while (len > 0 && g_ascii_isspace (start[len - 1]))
		len--;
	while (len > 0 && g_ascii_isspace (start[0])) {
		start++;
		len--;
	}
	ret_line->start = start;
	ret_line->len = len;
	ret_line->number = *line_no;
	return TRUE;
}

static gboolean
is_base64_syntax (const gchar *text, gsize len)
{
	gsize padding = 0;

	if (len == 0 || len % 4 != 0)
		return FALSE;
	while (padding < 2 && text[len - 1 - padding] == '=')
		padding++;
	for (gsize i = 0; i < len - padding; i++) {
		gchar c = text[i];

		if (!g_ascii_isalnum (c) && c != '+' && c != '/')
			return FALSE;
	}
	return TRUE;
}

/* Decodes @line to exactly @expected bytes into @out; the text must be canonical base64. */
static gboolean
decode_key_line (const Line *line, guint8 *out, gsize expected, const gchar *file_name,
		 const gchar *what, GError **error)
{
	gsize max_len = line->len / 4 * 3;
	guint8 *buf;
	gchar *reencoded;
	gint state = 0;
	guint save = 0;
	gsize n;
	gboolean canonical;

	if (!is_base64_syntax (line->start, line->len)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s' line %u: not valid base64; the file must hold one "
			     "base64-encoded ed25519 %s per line",
			     file_name, line->number, what);
		return FALSE;
	}
	buf = g_malloc (max_len + 3);
	n = g_base64_decode_step (line->start, line->len, buf, &state, &save);
	if (n != expected) {
		wipe_and_free (buf, max_len + 3);
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s' line %u: the key is %" G_GSIZE_FORMAT " bytes long, "
			     "but an ed25519 %s is %" G_GSIZE_FORMAT " bytes; check that "
			     "this is the right kind of key file",
			     file_name, line->number, n, what, expected);
		return FALSE;
	}
	reencoded = g_base64_encode (buf, n);
	canonical = strlen (reencoded) == line->len &&
		    memcmp (reencoded, line->start, line->len) == 0;
	memcpy (out, buf, n);
	wipe_and_free (reencoded, strlen (reencoded));
	wipe_and_free (buf, max_len + 3);
	if (!canonical) {
		OPENSSL_cleanse (out, expected);
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s' line %u: not canonical base64 (stray bits in the last "
			     "character); re-encode the %s",
			     file_name, line->number, what);
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_text (GBytes *contents, const gchar *file_name, GError **error)
{
	gsize size = g_bytes_get_size (contents);

	if (size > MU_ED25519_KEY_FILE_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s': %" G_GSIZE_FORMAT " bytes is too large for a key file; "
			     "check the path",
			     file_name, size);
		return FALSE;
	}
	return TRUE;
}

GPtrArray *
mu_ed25519_parse_public_keys (GBytes *contents, const gchar *file_name, GError **error)
{
	g_autoptr (GPtrArray) keys = NULL;
	const gchar *data;
	gsize size;
	gsize pos = 0;
	guint line_no = 0;
	Line line;

	g_return_val_if_fail (contents != NULL, NULL);
	g_return_val_if_fail (file_name != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!check_text (contents, file_name, error))
		return NULL;
	data = g_bytes_get_data (contents, &size);
	keys = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_ed25519_key_unref);
	while (next_line (data, size, &pos, &line_no, &line)) {
		guint8 raw[MU_ED25519_PUBLIC_KEY_LEN];
		g_autofree gchar *origin = NULL;
		MuEd25519Key *key;

		if (line.len == 0)
			continue;
		if (!decode_key_line (&line, raw, sizeof raw, file_name, "public key", error))
			return NULL;
		origin = g_strdup_printf ("%s:%u", file_name, line.number);
		key = mu_ed25519_key_new (raw, sizeof raw, origin, error);
		if (key == NULL)
			return NULL;
		g_ptr_array_add (keys, key);
	}
	if (keys->len == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s': no public key in the file; it must hold one base64-encoded "
			     "ed25519 public key per line (remove the file if it is not needed)",
			     file_name);
		return NULL;
	}
	return g_steal_pointer (&keys);
}

/* ---- secret keys ---- */

void
mu_ed25519_secret_key_free (MuEd25519SecretKey *secret)
{
	if (secret == NULL)
		return;
	EVP_PKEY_free (secret->pkey);
	mu_ed25519_key_unref (secret->public_key);
	g_free (secret);
}

/* Takes ownership of @pkey; checks it and derives the public half. */
static MuEd25519SecretKey *
secret_key_new_take (EVP_PKEY *pkey, const gchar *origin, GError **error)
{
	g_autoptr (EVP_PKEY) owned = pkey;
	guint8 pub[MU_ED25519_PUBLIC_KEY_LEN];
	size_t pub_len = sizeof pub;
	MuEd25519SecretKey *secret;
	MuEd25519Key *public_key;

	if (owned == NULL || EVP_PKEY_get_raw_public_key (owned, pub, &pub_len) != 1 ||
	    pub_len != sizeof pub) {
		ERR_clear_error ();
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "%s: OpenSSL could not load the ed25519 key", origin);
		return NULL;
	}
	public_key = mu_ed25519_key_new (pub, pub_len, origin, error);
	if (public_key == NULL)
		return NULL;
	secret = g_new0 (MuEd25519SecretKey, 1);
	secret->pkey = g_steal_pointer (&owned);
	secret->public_key = public_key;
	return secret;
}

MuEd25519SecretKey *
mu_ed25519_secret_key_generate (GError **error)
{
	g_autoptr (EVP_PKEY_CTX) ctx = NULL;
	EVP_PKEY *pkey = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init (ctx) != 1 || EVP_PKEY_keygen (ctx, &pkey) != 1) {
		ERR_clear_error ();
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "OpenSSL could not generate an ed25519 key; check that libssl3 "
			     "is installed correctly");
		return NULL;
	}
	return secret_key_new_take (pkey, "new key", error);
}

static gboolean
find_single_line (const gchar *data, gsize size, const gchar *file_name, Line *ret_line,
		  GError **error)
{
	gsize pos = 0;
	guint line_no = 0;
	gboolean found = FALSE;
	Line line;

	while (next_line (data, size, &pos, &line_no, &line)) {
		if (line.len == 0)
			continue;
		if (found) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
				     "'%s' line %u: a secret key file holds exactly one key; "
				     "put each key in its own file",
				     file_name, line.number);
			return FALSE;
		}
		*ret_line = line;
		found = TRUE;
	}
	if (!found) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s': the file is empty; it must hold one base64-encoded ed25519 "
			     "secret key (make one with 'mediaupd-bundle keygen --signing')",
			     file_name);
		return FALSE;
	}
	return TRUE;
}

MuEd25519SecretKey *
mu_ed25519_secret_key_parse (GBytes *contents, const gchar *file_name, GError **error)
{
	g_autoptr (MuEd25519SecretKey) secret = NULL;
	guint8 raw[MU_ED25519_SECRET_KEY_LEN];
	const gchar *data;
	gsize size;
	Line line;
	EVP_PKEY *pkey;
	gboolean match;

	g_return_val_if_fail (contents != NULL, NULL);
	g_return_val_if_fail (file_name != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!check_text (contents, file_name, error))
		return NULL;
	data = g_bytes_get_data (contents, &size);
	if (!find_single_line (data, size, file_name, &line, error))
		return NULL;
	if (!decode_key_line (&line, raw, sizeof raw, file_name,
			      "secret key (seed followed by public key)", error))
		return NULL;
	pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, raw,
					     MU_ED25519_SECRET_KEY_LEN - MU_ED25519_PUBLIC_KEY_LEN);
	secret = secret_key_new_take (pkey, file_name, error);
	if (secret == NULL) {
		OPENSSL_cleanse (raw, sizeof raw);
		return NULL;
	}
	match = memcmp (secret->public_key->raw,
			raw + MU_ED25519_SECRET_KEY_LEN - MU_ED25519_PUBLIC_KEY_LEN,
			MU_ED25519_PUBLIC_KEY_LEN) == 0;
	OPENSSL_cleanse (raw, sizeof raw);
	if (!match) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "'%s': the public half of the secret key does not match its seed; "
			     "the file is damaged or mixes two keys (make a new pair with "
			     "'mediaupd-bundle keygen --signing')",
			     file_name);
		return NULL;
	}
	return g_steal_pointer (&secret);
}

MuEd25519SecretKey *
mu_ed25519_secret_key_load (const gchar *path, GError **error)
{
	g_autoptr (GBytes) contents = NULL;

	g_return_val_if_fail (path != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	contents = mu_ed25519_read_key_file (path, error);
	if (contents == NULL)
		return NULL;
	return mu_ed25519_secret_key_parse (contents, path, error);
}

MuEd25519Key *
mu_ed25519_secret_key_get_public (MuEd25519SecretKey *secret)
{
	g_return_val_if_fail (secret != NULL, NULL);
	return secret->public_key;
}

GBytes *
mu_ed25519_secret_key_sign (MuEd25519SecretKey *secret, GBytes *data, GError **error)
{
	g_autoptr (EVP_MD_CTX) ctx = NULL;
	guint8 sig[MU_ED25519_SIGNATURE_LEN];
	size_t sig_len = sizeof sig;
	const guint8 *msg;
	gsize msg_len;

	g_return_val_if_fail (secret != NULL, NULL);
	g_return_val_if_fail (data != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	msg = g_bytes_get_data (data, &msg_len);
	ctx = EVP_MD_CTX_new ();
	if (ctx == NULL || EVP_DigestSignInit (ctx, NULL, NULL, NULL, secret->pkey) != 1 ||
	    EVP_DigestSign (ctx, sig, &sig_len, msg != NULL ? msg : sig, msg_len) != 1 ||
	    sig_len != sizeof sig) {
		ERR_clear_error ();
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "OpenSSL could not sign with key %s (from %s)", secret->public_key->id,
			     secret->public_key->origin);
		return NULL;
	}
	return g_bytes_new (sig, sig_len);
}

GBytes *
mu_ed25519_secret_key_to_file_contents (MuEd25519SecretKey *secret)
{
	guint8 raw[MU_ED25519_SECRET_KEY_LEN];
	size_t seed_len = MU_ED25519_SECRET_KEY_LEN - MU_ED25519_PUBLIC_KEY_LEN;
	gchar *text;
	gsize text_len;
	gchar *line;

	g_return_val_if_fail (secret != NULL, NULL);

	if (EVP_PKEY_get_raw_private_key (secret->pkey, raw, &seed_len) != 1 ||
	    seed_len != MU_ED25519_SECRET_KEY_LEN - MU_ED25519_PUBLIC_KEY_LEN)
		g_error ("OpenSSL lost the seed of an ed25519 key");
	memcpy (raw + seed_len, secret->public_key->raw, MU_ED25519_PUBLIC_KEY_LEN);
	text = g_base64_encode (raw, sizeof raw);
	OPENSSL_cleanse (raw, sizeof raw);
	text_len = strlen (text);
	line = g_malloc (text_len + 1);
	memcpy (line, text, text_len);
	line[text_len] = '\n';
	wipe_and_free (text, text_len);
	return bytes_new_take_wiped (line, text_len + 1);
}

/* ---- key file I/O ---- */

GBytes *
mu_ed25519_read_key_file (const gchar *path, GError **error)
{
	g_return_val_if_fail (path != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	return mu_file_read_regular (path, MU_ED25519_KEY_FILE_MAX_SIZE, MU_FILE_WIPE,
				     MU_ERROR_INVALID_KEY, error);
}

gboolean
mu_ed25519_secret_keys_check_distinct (MuEd25519SecretKey *const *secret_keys, guint n_secret_keys,
				       GError **error)
{
	for (guint i = 0; i < n_secret_keys; i++) {
		MuEd25519Key *a = mu_ed25519_secret_key_get_public (secret_keys[i]);

		for (guint j = 0; j < i; j++) {
			MuEd25519Key *b = mu_ed25519_secret_key_get_public (secret_keys[j]);

			if (mu_ed25519_key_equal (a, b)) {
				g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
					     "key %s is given twice (%s and %s); give each "
					     "signing key once",
					     mu_ed25519_key_get_id (a),
					     mu_ed25519_key_get_origin (b),
					     mu_ed25519_key_get_origin (a));
				return FALSE;
			}
		}
	}
	return TRUE;
}
