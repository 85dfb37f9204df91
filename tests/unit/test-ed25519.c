/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <sys/stat.h>

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-keyring.h"
#include "sign-test-util.h"

/* RFC 8032 section 7.1, TEST 2 (one-byte message 0x72). */
#define RFC_SEED "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
#define RFC_PUBLIC "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
#define RFC_SIGNATURE                                                                              \
	"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"                         \
	"085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"

static MuEd25519SecretKey *
parse_secret (const gchar *text, GError **error)
{
	g_autoptr (GBytes) bytes = sign_test_bytes (text);

	return mu_ed25519_secret_key_parse (bytes, "test.secret", error);
}

static GPtrArray *
parse_public (const gchar *text, GError **error)
{
	g_autoptr (GBytes) bytes = sign_test_bytes (text);

	return mu_ed25519_parse_public_keys (bytes, "test.pub", error);
}

static MuEd25519SecretKey *
generate (void)
{
	g_autoptr (GError) error = NULL;
	MuEd25519SecretKey *secret = mu_ed25519_secret_key_generate (&error);

	g_assert_no_error (error);
	g_assert_nonnull (secret);
	return secret;
}

static gchar *
public_line (MuEd25519SecretKey *secret)
{
	g_autoptr (GBytes) contents = mu_ed25519_key_to_file_contents (
		mu_ed25519_secret_key_get_public (secret));

	return g_strndup (g_bytes_get_data (contents, NULL), g_bytes_get_size (contents));
}

/* The secret key file format (base64 of seed || public) against a published test vector. */
static void
test_ed25519_rfc8032_vector (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) seed = sign_test_hex (RFC_SEED);
	g_autoptr (GBytes) pub = sign_test_hex (RFC_PUBLIC);
	g_autoptr (GBytes) expected_sig = sign_test_hex (RFC_SIGNATURE);
	g_autoptr (GByteArray) raw = g_byte_array_new ();
	g_autoptr (GBytes) raw_bytes = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr (MuEd25519SecretKey) secret = NULL;
	g_autoptr (GBytes) msg = g_bytes_new_static ("\x72", 1);
	g_autoptr (GBytes) sig = NULL;
	MuEd25519Key *key;

	g_byte_array_append (raw, g_bytes_get_data (seed, NULL), 32);
	g_byte_array_append (raw, g_bytes_get_data (pub, NULL), 32);
	raw_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&raw));
	text = sign_test_b64_line (raw_bytes);

	secret = parse_secret (text, &error);
	g_assert_no_error (error);
	key = mu_ed25519_secret_key_get_public (secret);
	g_assert_cmpmem (mu_ed25519_key_get_raw (key), 32, g_bytes_get_data (pub, NULL), 32);

	sig = mu_ed25519_secret_key_sign (secret, msg, &error);
	g_assert_no_error (error);
	g_assert_true (g_bytes_equal (sig, expected_sig));
	g_assert_true (mu_ed25519_key_verify (key, (const guint8 *) "\x72", 1,
					      g_bytes_get_data (sig, NULL), 64));
	g_assert_false (mu_ed25519_key_verify (key, (const guint8 *) "\x73", 1,
					       g_bytes_get_data (sig, NULL), 64));
	g_assert_false (mu_ed25519_key_verify (key, (const guint8 *) "\x72", 1,
					       g_bytes_get_data (sig, NULL), 63));
}

static void
test_ed25519_generate_roundtrip (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) secret = generate ();
	g_autoptr (MuEd25519SecretKey) other = generate ();
	g_autoptr (GBytes) contents = mu_ed25519_secret_key_to_file_contents (secret);
	g_autoptr (MuEd25519SecretKey) reparsed = NULL;
	g_autoptr (GBytes) msg = sign_test_bytes ("message");
	g_autoptr (GBytes) sig = NULL;
	const gchar *text = g_bytes_get_data (contents, NULL);

	/* 88 base64 characters and a newline. */
	g_assert_cmpuint (g_bytes_get_size (contents), ==, 89);
	g_assert_cmpint (text[88], ==, '\n');
	reparsed = mu_ed25519_secret_key_parse (contents, "k.secret", &error);
	g_assert_no_error (error);
	g_assert_true (mu_ed25519_key_equal (mu_ed25519_secret_key_get_public (secret),
					     mu_ed25519_secret_key_get_public (reparsed)));
	g_assert_false (mu_ed25519_key_equal (mu_ed25519_secret_key_get_public (secret),
					      mu_ed25519_secret_key_get_public (other)));
	g_assert_cmpuint (strlen (mu_ed25519_key_get_id (
				  mu_ed25519_secret_key_get_public (secret))),
			  ==, 44);

	sig = mu_ed25519_secret_key_sign (reparsed, msg, &error);
	g_assert_no_error (error);
	g_assert_true (mu_ed25519_key_verify (mu_ed25519_secret_key_get_public (secret),
					      g_bytes_get_data (msg, NULL), g_bytes_get_size (msg),
					      g_bytes_get_data (sig, NULL), 64));
	g_assert_false (mu_ed25519_key_verify (mu_ed25519_secret_key_get_public (other),
					       g_bytes_get_data (msg, NULL), g_bytes_get_size (msg),
					       g_bytes_get_data (sig, NULL), 64));
}

static void
test_ed25519_public_parse (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autoptr (MuEd25519SecretKey) b = generate ();
	g_autofree gchar *la = public_line (a);
	g_autofree gchar *lb = public_line (b);
	g_autofree gchar *text = NULL;
	g_autoptr (GPtrArray) keys = NULL;

	/* Blank lines, CRLF and surrounding blanks are fine; the last line lacks '\n'. */
	g_strchomp (lb);
	text = g_strdup_printf ("\n  %s\r\n\n%s", g_strchomp (la), lb);
	keys = parse_public (text, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (keys->len, ==, 2);
	g_assert_cmpstr (mu_ed25519_key_get_id (keys->pdata[0]), ==, la);
	g_assert_true (mu_ed25519_key_equal (keys->pdata[0], mu_ed25519_secret_key_get_public (a)));
	g_assert_true (mu_ed25519_key_equal (keys->pdata[1], mu_ed25519_secret_key_get_public (b)));
	g_assert_cmpstr (mu_ed25519_key_get_origin (keys->pdata[0]), ==, "test.pub:2");
	g_assert_cmpstr (mu_ed25519_key_get_origin (keys->pdata[1]), ==, "test.pub:4");
}

static void
test_ed25519_public_bad_base64 (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autofree gchar *la = public_line (a);
	g_autofree gchar *text = g_strconcat (la, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlr*IaaPcHURo=\n",
					      NULL);
	g_autoptr (GPtrArray) keys = parse_public (text, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (keys);
	g_assert_nonnull (strstr (error->message, "'test.pub' line 2"));
	g_assert_nonnull (strstr (error->message, "base64"));
}

static void
test_ed25519_public_comment_refused (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) keys = parse_public ("# vendor key\n", &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (keys);
}

static void
test_ed25519_public_wrong_length (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) error2 = NULL;
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autoptr (GBytes) secret_text = mu_ed25519_secret_key_to_file_contents (a);
	g_autofree gchar *secret_str = g_strndup (g_bytes_get_data (secret_text, NULL),
						  g_bytes_get_size (secret_text));
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GPtrArray) keys2 = NULL;

	/* 31 bytes. */
	keys = parse_public ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n", &error);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (keys);
	g_assert_nonnull (strstr (error->message, "31 bytes"));
	g_assert_nonnull (strstr (error->message, "line 1"));

	/* A secret key put into a public key file. */
	keys2 = parse_public (secret_str, &error2);
	g_assert_error (error2, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (keys2);
	g_assert_nonnull (strstr (error2->message, "64 bytes"));
}

static void
test_ed25519_public_non_canonical (void)
{
	g_autoptr (GError) error = NULL;
	/* "...8=" decodes to the same bytes as "...A=" but with stray low bits. */
	g_autoptr (GPtrArray) keys = parse_public ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
						   &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (keys);
}

static void
test_ed25519_public_empty (void)
{
	const gchar *inputs[] = { "", "\n", "  \n\t\n" };

	for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
		g_autoptr (GError) error = NULL;
		g_autoptr (GPtrArray) keys = parse_public (inputs[i], &error);

		g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
		g_assert_null (keys);
		g_assert_nonnull (strstr (error->message, "test.pub"));
	}
}

static void
test_ed25519_secret_mismatch (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autoptr (MuEd25519SecretKey) b = generate ();
	g_autoptr (GBytes) ca = mu_ed25519_secret_key_to_file_contents (a);
	g_autoptr (GByteArray) mixed = g_byte_array_new ();
	g_autoptr (GBytes) mixed_bytes = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *a_text = g_strndup (g_bytes_get_data (ca, NULL), 88);
	g_autoptr (MuEd25519SecretKey) secret = NULL;
	gsize len = 0;
	g_autofree guint8 *decoded = g_base64_decode (a_text, &len);

	g_assert_cmpuint (len, ==, 64);
	/* Seed of a, public half of b. */
	g_byte_array_append (mixed, decoded, 32);
	g_byte_array_append (mixed, mu_ed25519_key_get_raw (mu_ed25519_secret_key_get_public (b)),
			     32);
	mixed_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&mixed));
	text = sign_test_b64_line (mixed_bytes);
	secret = parse_secret (text, &error);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (secret);
	g_assert_nonnull (strstr (error->message, "does not match"));
}

static void
test_ed25519_secret_wrong_length (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autofree gchar *la = public_line (a);
	/* A public key file given as the secret key. */
	g_autoptr (MuEd25519SecretKey) secret = parse_secret (la, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (secret);
	g_assert_nonnull (strstr (error->message, "32 bytes"));
}

static void
test_ed25519_secret_bad_base64 (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) secret = parse_secret ("not base64!\n", &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (secret);
}

static void
test_ed25519_secret_two_keys (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autoptr (GBytes) ca = mu_ed25519_secret_key_to_file_contents (a);
	g_autofree gchar *one = g_strndup (g_bytes_get_data (ca, NULL), g_bytes_get_size (ca));
	g_autofree gchar *two = g_strconcat (one, one, NULL);
	g_autoptr (MuEd25519SecretKey) secret = parse_secret (two, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (secret);
	g_assert_nonnull (strstr (error->message, "line 2"));
}

static void
test_ed25519_secret_empty (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) secret = parse_secret ("\n", &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (secret);
}

static void
test_ed25519_secret_missing_file (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autofree gchar *path = g_build_filename (dir, "nope.secret", NULL);
	g_autoptr (MuEd25519SecretKey) secret = mu_ed25519_secret_key_load (path, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_assert_null (secret);
	g_assert_nonnull (strstr (error->message, path));
	sign_test_rm_rf (dir);
}

static void
test_ed25519_secret_load_file (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autofree gchar *path = g_build_filename (dir, "k.secret", NULL);
	g_autoptr (MuEd25519SecretKey) a = generate ();
	g_autoptr (GBytes) ca = mu_ed25519_secret_key_to_file_contents (a);
	g_autoptr (MuEd25519SecretKey) loaded = NULL;

	g_file_set_contents (path, g_bytes_get_data (ca, NULL), (gssize) g_bytes_get_size (ca),
			     &error);
	g_assert_no_error (error);
	loaded = mu_ed25519_secret_key_load (path, &error);
	g_assert_no_error (error);
	g_assert_true (mu_ed25519_key_equal (mu_ed25519_secret_key_get_public (a),
					     mu_ed25519_secret_key_get_public (loaded)));
	g_assert_cmpstr (mu_ed25519_key_get_origin (mu_ed25519_secret_key_get_public (loaded)), ==,
			 path);
	sign_test_rm_rf (dir);
}

/* Writes the public key of each secret into its own line of @path. */
static void
write_public_file (const gchar *path, MuEd25519SecretKey **secrets, guint n)
{
	g_autoptr (GString) text = g_string_new (NULL);

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *line = public_line (secrets[i]);

		g_string_append (text, line);
	}
	sign_test_write (path, text->str);
}

static gboolean
keys_contain (GPtrArray *keys, MuEd25519SecretKey *secret)
{
	for (guint i = 0; i < keys->len; i++) {
		if (mu_ed25519_key_equal (keys->pdata[i],
					  mu_ed25519_secret_key_get_public (secret)))
			return TRUE;
	}
	return FALSE;
}

/* OSTree's layout: trusted.ed25519 + trusted.ed25519.d/ minus revoked.ed25519(.d/). */
static void
test_keyring_ostree_dir (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autofree gchar *tfile = g_build_filename (dir, "trusted.ed25519", NULL);
	g_autofree gchar *tdir = g_build_filename (dir, "trusted.ed25519.d", NULL);
	g_autofree gchar *tdir_a = g_build_filename (tdir, "a", NULL);
	g_autofree gchar *tdir_sub = g_build_filename (tdir, "subdir", NULL);
	g_autofree gchar *rdir = g_build_filename (dir, "revoked.ed25519.d", NULL);
	g_autofree gchar *rdir_x = g_build_filename (rdir, "x", NULL);
	g_autoptr (MuEd25519SecretKey) k1 = generate ();
	g_autoptr (MuEd25519SecretKey) k2 = generate ();
	g_autoptr (MuEd25519SecretKey) k3 = generate ();
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();
	g_autoptr (GPtrArray) effective = NULL;

	g_assert_cmpint (g_mkdir (tdir, 0755), ==, 0);
	g_assert_cmpint (g_mkdir (tdir_sub, 0755), ==, 0);
	g_assert_cmpint (g_mkdir (rdir, 0755), ==, 0);
	write_public_file (tfile, &k1, 1);
	write_public_file (tdir_a, (MuEd25519SecretKey *[]){ k2, k3 }, 2);
	write_public_file (rdir_x, &k2, 1);

	g_assert_true (mu_keyring_load_ostree_dir (keyring, dir, &error));
	g_assert_no_error (error);
	effective = mu_keyring_get_effective_keys (keyring);
	g_assert_cmpuint (effective->len, ==, 2);
	g_assert_true (keys_contain (effective, k1));
	g_assert_false (keys_contain (effective, k2));
	g_assert_true (keys_contain (effective, k3));
	g_assert_true (mu_keyring_is_revoked (keyring, mu_ed25519_secret_key_get_public (k2)));
	g_assert_cmpuint (mu_keyring_get_n_trusted (keyring), ==, 2);
	sign_test_rm_rf (dir);
}

/* A directory given explicitly: every regular file counts; a revoked dir subtracts. */
static void
test_keyring_trusted_and_revoked_dirs (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autofree gchar *tdir = g_build_filename (dir, "trusted", NULL);
	g_autofree gchar *rdir = g_build_filename (dir, "revoked", NULL);
	g_autofree gchar *t1 = g_build_filename (tdir, "one.pub", NULL);
	g_autofree gchar *t2 = g_build_filename (tdir, "two", NULL);
	g_autofree gchar *r1 = g_build_filename (rdir, "old.pub", NULL);
	g_autofree gchar *t2_origin = g_strconcat (t2, ":1", NULL);
	g_autoptr (MuEd25519SecretKey) k1 = generate ();
	g_autoptr (MuEd25519SecretKey) k2 = generate ();
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();
	g_autoptr (GPtrArray) effective = NULL;

	g_assert_cmpint (g_mkdir (tdir, 0755), ==, 0);
	g_assert_cmpint (g_mkdir (rdir, 0755), ==, 0);
	write_public_file (t1, &k1, 1);
	write_public_file (t2, &k2, 1);
	write_public_file (r1, &k1, 1);
	g_assert_true (mu_keyring_load_trusted (keyring, tdir, &error));
	g_assert_no_error (error);
	effective = mu_keyring_get_effective_keys (keyring);
	g_assert_cmpuint (effective->len, ==, 2);
	g_clear_pointer (&effective, g_ptr_array_unref);

	g_assert_true (mu_keyring_load_revoked (keyring, rdir, &error));
	g_assert_no_error (error);
	effective = mu_keyring_get_effective_keys (keyring);
	g_assert_cmpuint (effective->len, ==, 1);
	g_assert_true (keys_contain (effective, k2));
	g_assert_cmpstr (mu_ed25519_key_get_origin (effective->pdata[0]), ==, t2_origin);
	sign_test_rm_rf (dir);
}

static void
test_keyring_missing_path (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();

	g_assert_false (mu_keyring_load_trusted (keyring, "/nonexistent/mediaupd/trusted", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_assert_nonnull (strstr (error->message, "/nonexistent/mediaupd/trusted"));
}

static void
test_keyring_malformed_file_in_dir (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autofree gchar *good = g_build_filename (dir, "a-good", NULL);
	g_autofree gchar *bad = g_build_filename (dir, "b-bad", NULL);
	g_autoptr (MuEd25519SecretKey) k1 = generate ();
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();

	write_public_file (good, &k1, 1);
	sign_test_write (bad, "c29tZXRoaW5nIGVsc2U=\n");
	g_assert_false (mu_keyring_load_revoked (keyring, dir, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_nonnull (strstr (error->message, bad));
	sign_test_rm_rf (dir);
}

static void
test_keyring_empty_ostree_dir (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();

	g_assert_true (mu_keyring_load_ostree_dir (keyring, dir, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (mu_keyring_get_n_trusted (keyring), ==, 0);
	sign_test_rm_rf (dir);
}

/* An empty revocation list is a placeholder, not an error; an empty trusted file is. */
static void
test_keyring_empty_revoked_file (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = sign_test_make_tmpdir ();
	g_autofree gchar *revoked = g_build_filename (dir, "revoked.ed25519", NULL);
	g_autofree gchar *trusted = g_build_filename (dir, "trusted.ed25519", NULL);
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();
	g_autoptr (GPtrArray) revoked_keys = NULL;

	sign_test_write (revoked, "\n  \n");
	sign_test_write (trusted, "");
	g_assert_true (mu_keyring_load_revoked (keyring, revoked, &error));
	g_assert_no_error (error);
	revoked_keys = mu_keyring_get_revoked_keys (keyring);
	g_assert_cmpuint (revoked_keys->len, ==, 0);
	g_assert_false (mu_keyring_load_trusted (keyring, trusted, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	sign_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/ed25519/rfc8032-vector", test_ed25519_rfc8032_vector);
	g_test_add_func ("/ed25519/generate-roundtrip", test_ed25519_generate_roundtrip);
	g_test_add_func ("/ed25519/public/parse", test_ed25519_public_parse);
	g_test_add_func ("/ed25519/public/bad-base64", test_ed25519_public_bad_base64);
	g_test_add_func ("/ed25519/public/comment-refused", test_ed25519_public_comment_refused);
	g_test_add_func ("/ed25519/public/wrong-length", test_ed25519_public_wrong_length);
	g_test_add_func ("/ed25519/public/non-canonical", test_ed25519_public_non_canonical);
	g_test_add_func ("/ed25519/public/empty", test_ed25519_public_empty);
	g_test_add_func ("/ed25519/secret/public-half-mismatch", test_ed25519_secret_mismatch);
	g_test_add_func ("/ed25519/secret/wrong-length", test_ed25519_secret_wrong_length);
	g_test_add_func ("/ed25519/secret/bad-base64", test_ed25519_secret_bad_base64);
	g_test_add_func ("/ed25519/secret/two-keys", test_ed25519_secret_two_keys);
	g_test_add_func ("/ed25519/secret/empty", test_ed25519_secret_empty);
	g_test_add_func ("/ed25519/secret/missing-file", test_ed25519_secret_missing_file);
	g_test_add_func ("/ed25519/secret/load-file", test_ed25519_secret_load_file);
	g_test_add_func ("/keyring/ostree-dir", test_keyring_ostree_dir);
	g_test_add_func ("/keyring/trusted-and-revoked-dirs",
			 test_keyring_trusted_and_revoked_dirs);
	g_test_add_func ("/keyring/missing-path", test_keyring_missing_path);
	g_test_add_func ("/keyring/malformed-file-in-dir", test_keyring_malformed_file_in_dir);
	g_test_add_func ("/keyring/empty-ostree-dir", test_keyring_empty_ostree_dir);
	g_test_add_func ("/keyring/empty-revoked-file", test_keyring_empty_revoked_file);
	return g_test_run ();
}
