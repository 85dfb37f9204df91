/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sealed device keys with the real systemd-creds, sealed with --with-key=host under a host
 * secret of the test's own ($SYSTEMD_CREDENTIAL_SECRET), never the machine's.
 */
#include "config.h"

#include <sys/stat.h>

#include <glib/gstdio.h>

#include "mu-bundle.h"
#include "mu-credentials.h"
#include "mu-device-keys.h"
#include "mu-error.h"
#include "test-luks-util.h"

static gchar *tmpdir;
static gchar *secret_path;
static gchar *other_secret_path;

static gchar *
path_in (const gchar *dir, const gchar *id, const gchar *suffix)
{
	g_autofree gchar *name = g_strconcat (id, suffix, NULL);

	return g_build_filename (dir, name, NULL);
}

static gchar *
new_dir (const gchar *name)
{
	gchar *dir = g_build_filename (tmpdir, name, NULL);

	g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
	return dir;
}

static GBytes *
read_file (const gchar *path)
{
	g_autoptr (GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;

	g_file_get_contents (path, &data, &len, &error);
	g_assert_no_error (error);
	return g_bytes_new_take (data, len);
}

static gboolean
key_has_bytes (const MuKey *key, GBytes *bytes)
{
	return key->len == g_bytes_get_size (bytes) &&
	       memcmp (key->data, g_bytes_get_data (bytes, NULL), key->len) == 0;
}

/* Seals DIR/ID.key with the test's host secret (or @secret), as `keys seal` does. */
static void
seal (const gchar *dir, const gchar *id, const gchar *secret)
{
	g_autoptr (GError) error = NULL;

	g_setenv ("SYSTEMD_CREDENTIAL_SECRET", secret != NULL ? secret : secret_path, TRUE);
	g_assert_true (mu_credential_seal_key_file (dir, id, "host", &error));
	g_assert_no_error (error);
	g_setenv ("SYSTEMD_CREDENTIAL_SECRET", secret_path, TRUE);
}

static GPtrArray *
load_keys (const gchar *dir, GPtrArray *refused)
{
	const gchar *dirs[] = { dir, NULL };
	g_autoptr (GError) error = NULL;
	GPtrArray *keys = mu_device_keys_load (dirs, refused, &error);

	g_assert_no_error (error);
	return keys;
}

static void
test_seal_kind (void)
{
	static const struct {
		const gchar *header;
		MuCredentialSeal seal;
	} cases[] = {
		/* base64 of the 16 id bytes and two more */
		{ "Whxqht+dQJax1aZeCGLxmiAA", MU_CREDENTIAL_SEAL_HOST },
		{ "DHzAexF2RZGcSwvqCLwg/iAA", MU_CREDENTIAL_SEAL_TPM2 },
		{ "k6iUCUh0RJCQyvL8k8q1UyAA", MU_CREDENTIAL_SEAL_HOST_TPM2 },
		{ "BYRp2vb1QySABUnaD46i+yAA", MU_CREDENTIAL_SEAL_NONE },
		{ "AAAAAAAAAAAAAAAAAAAAAAAA", MU_CREDENTIAL_SEAL_UNKNOWN },
		{ "Whxqht+dQJax1aZe", MU_CREDENTIAL_SEAL_UNKNOWN },           /* cut short */
		{ "Whxqht+dQJax1a\nZeCGLxmiAA", MU_CREDENTIAL_SEAL_UNKNOWN }, /* not base64 */
		{ "", MU_CREDENTIAL_SEAL_UNKNOWN },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) b = g_bytes_new_static (cases[i].header,
							   strlen (cases[i].header));

		g_test_message ("header %s", cases[i].header);
		g_assert_cmpint (mu_credential_seal_from_bytes (b), ==, cases[i].seal);
	}
	g_assert_cmpstr (mu_credential_seal_to_string (MU_CREDENTIAL_SEAL_HOST_TPM2), ==,
			 "host+tpm2");
	g_assert_true (mu_credential_with_key_is_valid ("auto"));
	g_assert_true (mu_credential_with_key_is_valid ("host+tpm2"));
	g_assert_false (mu_credential_with_key_is_valid ("tpm2-absent"));
	g_assert_false (mu_credential_with_key_is_valid (NULL));
}

/* A sealed key replaces the plain file and opens the bundle the plain one opened. */
static void
test_sealed_opens_bundle (void)
{
	g_autoptr (MuLuksFixtures) fx = mu_luks_fixtures_new ();
	g_autofree gchar *dir = new_dir ("opens");
	g_autofree gchar *key_path = path_in (dir, "main-2026", ".key");
	g_autofree gchar *cred_path = path_in (dir, "main-2026", MU_CREDENTIAL_SUFFIX);
	g_autofree gchar *tmp_path = path_in (dir, "main-2026", MU_CREDENTIAL_TMP_SUFFIX);
	g_autoptr (GBytes) plain = read_file (fx->key_paths[0]);
	g_autoptr (GBytes) sealed = NULL;
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GPtrArray) trials = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_key_trial_free);
	g_autoptr (MuBundle) bundle = NULL;
	g_autoptr (GError) error = NULL;
	const MuKey *opened = NULL;
	struct stat st;
	gint slot = -1;

	g_file_set_contents_full (key_path, g_bytes_get_data (plain, NULL),
				  (gssize) g_bytes_get_size (plain), G_FILE_SET_CONTENTS_NONE, 0600,
				  &error);
	g_assert_no_error (error);
	seal (dir, "main-2026", NULL);
	g_assert_false (g_file_test (key_path, G_FILE_TEST_EXISTS));
	g_assert_false (g_file_test (tmp_path, G_FILE_TEST_EXISTS));
	g_assert_cmpint (g_lstat (cred_path, &st), ==, 0);
	g_assert_true (S_ISREG (st.st_mode));
	g_assert_cmpint (st.st_mode & 07777, ==, 0600);
	g_assert_cmpint (mu_credential_seal_of_file (cred_path), ==, MU_CREDENTIAL_SEAL_HOST);
	/* The key is not in the file, raw. */
	sealed = read_file (cred_path);
	g_assert_null (memmem (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed),
			       g_bytes_get_data (plain, NULL), g_bytes_get_size (plain)));

	keys = load_keys (dir, NULL);
	g_assert_cmpuint (keys->len, ==, 1);
	g_assert_cmpstr (((MuKey *) keys->pdata[0])->id, ==, "main-2026");
	g_assert_true (key_has_bytes (keys->pdata[0], plain));

	bundle = mu_bundle_open (fx->three, &error);
	g_assert_no_error (error);
	g_assert_true (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, &opened, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 0);
	g_assert_cmpstr (opened->id, ==, "main-2026");
}

/* Sealed under another host secret (another device), tampered with, or renamed: each is
 * refused on its own, and every other key still loads. */
static void
test_refused_others_load (void)
{
	g_autofree gchar *dir = new_dir ("refused");
	g_autofree gchar *foreign = path_in (dir, "foreign", MU_CREDENTIAL_SUFFIX);
	g_autofree gchar *tampered = path_in (dir, "tampered", MU_CREDENTIAL_SUFFIX);
	g_autofree gchar *renamed_from = path_in (dir, "moved", MU_CREDENTIAL_SUFFIX);
	g_autofree gchar *renamed_to = path_in (dir, "other-id", MU_CREDENTIAL_SUFFIX);
	g_autofree gchar *good_key = NULL;
	g_autoptr (GBytes) good_plain = NULL;
	g_autoptr (GBytes) before = NULL;
	g_autoptr (GPtrArray) refused = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GError) error = NULL;
	gchar *text;
	gsize len;

	g_free (mu_test_write_random_key (dir, "foreign", 32, NULL));
	seal (dir, "foreign", other_secret_path);
	good_key = mu_test_write_random_key (dir, "good", 64, NULL);
	good_plain = read_file (good_key);
	seal (dir, "good", NULL);
	g_free (mu_test_write_random_key (dir, "tampered", 32, NULL));
	seal (dir, "tampered", NULL);
	g_free (mu_test_write_random_key (dir, "moved", 32, NULL));
	seal (dir, "moved", NULL);
	g_assert_cmpint (g_rename (renamed_from, renamed_to), ==, 0);
	g_free (mu_test_write_random_key (dir, "plain", 32, NULL));

	/* One base64 character of the ciphertext changed, past the header. */
	g_file_get_contents (tampered, &text, &len, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (len, >, 80);
	text[70] = text[70] == 'A' ? 'B' : 'A';
	g_file_set_contents_full (tampered, text, (gssize) len, G_FILE_SET_CONTENTS_NONE, 0600,
				  &error);
	g_assert_no_error (error);
	g_free (text);
	before = read_file (foreign);

	/* The refusals are warnings on purpose; they are checked through @refused. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	keys = load_keys (dir, refused);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	g_assert_cmpuint (keys->len, ==, 2);
	g_assert_cmpstr (((MuKey *) keys->pdata[0])->id, ==, "good");
	g_assert_true (key_has_bytes (keys->pdata[0], good_plain));
	g_assert_cmpstr (((MuKey *) keys->pdata[1])->id, ==, "plain");
	g_assert_cmpuint (refused->len, ==, 3);
	for (guint i = 0; i < refused->len; i++) {
		const gchar *m = refused->pdata[i];

		g_test_message ("refused: %s", m);
		g_assert_nonnull (strstr (m, "does not decrypt on this device"));
		g_assert_nonnull (strstr (m, "mediaupdctl keys seal"));
		g_assert_true (strstr (m, foreign) != NULL || strstr (m, tampered) != NULL ||
			       strstr (m, renamed_to) != NULL);
	}
	/* Refusing changed nothing. */
	{
		g_autoptr (GBytes) after = read_file (foreign);

		g_assert_true (g_bytes_equal (before, after));
	}
}

/* In one directory the sealed key wins over a plain file of the same id; the plain one
 * is used when the sealed one does not decrypt. */
static void
test_precedence (void)
{
	g_autofree gchar *dir = new_dir ("precedence");
	g_autofree gchar *key_path = NULL;
	g_autofree gchar *cred_path = path_in (dir, "k", MU_CREDENTIAL_SUFFIX);
	g_autoptr (GBytes) sealed_bytes = NULL;
	g_autoptr (GBytes) plain_bytes = NULL;
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GPtrArray) refused = g_ptr_array_new_with_free_func (g_free);

	key_path = mu_test_write_random_key (dir, "k", 32, NULL);
	sealed_bytes = read_file (key_path);
	seal (dir, "k", NULL);
	g_free (mu_test_write_random_key (dir, "k", 48, NULL));
	plain_bytes = read_file (key_path);

	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	keys = load_keys (dir, refused);
	g_assert_cmpuint (keys->len, ==, 1);
	g_assert_true (key_has_bytes (keys->pdata[0], sealed_bytes));
	g_assert_cmpuint (refused->len, ==, 0);
	g_clear_pointer (&keys, g_ptr_array_unref);

	/* Now the credential is one of another device. */
	g_assert_cmpint (g_unlink (cred_path), ==, 0);
	g_free (mu_test_write_random_key (dir, "k", 32, NULL));
	seal (dir, "k", other_secret_path);
	g_assert_true (g_file_set_contents_full (key_path, g_bytes_get_data (plain_bytes, NULL),
						 (gssize) g_bytes_get_size (plain_bytes),
						 G_FILE_SET_CONTENTS_NONE, 0600, NULL));
	keys = load_keys (dir, refused);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	g_assert_cmpuint (keys->len, ==, 1);
	g_assert_true (key_has_bytes (keys->pdata[0], plain_bytes));
	g_assert_cmpuint (refused->len, ==, 1);
}

/* A key that has no plain file (one an update brings) sealed straight away, and replaced. */
static void
test_write_key (void)
{
	g_autofree gchar *dir = new_dir ("write-key");
	g_autofree gchar *cred_path = path_in (dir, "new-1", MU_CREDENTIAL_SUFFIX);
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GError) error = NULL;
	guint8 bytes[48];

	for (guint round = 0; round < 2; round++) {
		g_autoptr (MuKey) key = NULL;
		g_autoptr (GBytes) want = NULL;
		g_autoptr (GDir) d = NULL;
		guint n = 0;

		for (gsize i = 0; i < sizeof bytes; i++)
			bytes[i] = (guint8) g_random_int_range (0, 256);
		want = g_bytes_new (bytes, sizeof bytes);
		key = mu_key_new ("new-1", bytes, sizeof bytes, &error);
		g_assert_no_error (error);
		g_assert_true (mu_credential_write_key (dir, key, "host", &error));
		g_assert_no_error (error);
		g_assert_cmpint (mu_credential_seal_of_file (cred_path), ==,
				 MU_CREDENTIAL_SEAL_HOST);
		d = g_dir_open (dir, 0, NULL);
		while (g_dir_read_name (d) != NULL)
			n++;
		g_assert_cmpuint (n, ==, 1);
		keys = load_keys (dir, NULL);
		g_assert_cmpuint (keys->len, ==, 1);
		g_assert_true (key_has_bytes (keys->pdata[0], want));
		g_clear_pointer (&keys, g_ptr_array_unref);
	}
}

/* Refusals of `keys seal` change nothing. */
static void
test_seal_refusals (void)
{
	g_autofree gchar *dir = new_dir ("seal-refusals");
	g_autofree gchar *key_path = NULL;
	g_autofree gchar *cred_path = path_in (dir, "k", MU_CREDENTIAL_SUFFIX);
	g_autoptr (GBytes) key_before = NULL;
	g_autoptr (GBytes) cred_before = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (GDir) d = NULL;
	guint n = 0;

	key_path = mu_test_write_random_key (dir, "k", 32, NULL);
	g_assert_false (mu_credential_seal_key_file (dir, "k", "tpm3", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_clear_error (&error);
	g_assert_false (mu_credential_seal_key_file (dir, "../k", "host", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_clear_error (&error);
	g_assert_false (mu_credential_seal_key_file (dir, "missing", "host", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_clear_error (&error);
	g_assert_false (g_file_test (cred_path, G_FILE_TEST_EXISTS));

	/* A readable plain key is refused as the loader refuses it. */
	g_assert_cmpint (g_chmod (key_path, 0644), ==, 0);
	g_assert_false (mu_credential_seal_key_file (dir, "k", "host", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_KEY_PERMISSIONS);
	g_clear_error (&error);
	g_assert_false (g_file_test (cred_path, G_FILE_TEST_EXISTS));
	g_assert_cmpint (g_chmod (key_path, 0600), ==, 0);

	/* A sealed key of another id's bytes beside it: both stay. */
	seal (dir, "k", NULL);
	g_free (mu_test_write_random_key (dir, "k", 32, NULL));
	key_before = read_file (key_path);
	cred_before = read_file (cred_path);
	g_assert_false (mu_credential_seal_key_file (dir, "k", "host", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_nonnull (strstr (error->message, "holds another key"));
	{
		g_autoptr (GBytes) key_after = read_file (key_path);
		g_autoptr (GBytes) cred_after = read_file (cred_path);

		g_assert_true (g_bytes_equal (key_before, key_after));
		g_assert_true (g_bytes_equal (cred_before, cred_after));
	}
	d = g_dir_open (dir, 0, NULL);
	while (g_dir_read_name (d) != NULL)
		n++;
	g_assert_cmpuint (n, ==, 2);
}

/*
 * A crash after each step of `keys seal` (test hook MEDIAUPD_TEST_SEAL_CRASH) leaves a key
 * that loads with the same bytes, and sealing again finishes the job.
 */
static void
test_crash (gconstpointer data)
{
	const gchar *step = data;
	g_autofree gchar *name = g_strconcat ("crash-", step, NULL);
	g_autofree gchar *dir = g_build_filename (tmpdir, name, NULL);
	g_autofree gchar *key_path = path_in (dir, "k", ".key");
	g_autofree gchar *cred_path = path_in (dir, "k", MU_CREDENTIAL_SUFFIX);
	g_autofree gchar *tmp_path = path_in (dir, "k", MU_CREDENTIAL_TMP_SUFFIX);
	g_autoptr (GBytes) plain = NULL;
	g_autoptr (GPtrArray) keys = NULL;

	if (!MEDIAUPD_TEST_HOOKS) {
		g_test_skip ("needs -Dtest_hooks=true");
		return;
	}
	if (g_test_subprocess ()) {
		g_autoptr (GError) error = NULL;

		g_setenv ("MEDIAUPD_TEST_SEAL_CRASH", step, TRUE);
		if (!mu_credential_seal_key_file (dir, "k", "host", &error))
			g_printerr ("seal failed: %s\n", error->message);
		return; /* not reached when the hook works */
	}
	g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
	g_free (mu_test_write_random_key (dir, "k", 32, NULL));
	plain = read_file (key_path);
	g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_failed ();
	g_assert_true (g_file_test (key_path, G_FILE_TEST_EXISTS));
	if (g_str_equal (step, "written")) {
		g_assert_true (g_file_test (tmp_path, G_FILE_TEST_EXISTS));
		g_assert_false (g_file_test (cred_path, G_FILE_TEST_EXISTS));
	} else {
		g_assert_false (g_file_test (tmp_path, G_FILE_TEST_EXISTS));
		g_assert_true (g_file_test (cred_path, G_FILE_TEST_EXISTS));
	}
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	keys = load_keys (dir, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	g_assert_cmpuint (keys->len, ==, 1);
	g_assert_true (key_has_bytes (keys->pdata[0], plain));
	g_clear_pointer (&keys, g_ptr_array_unref);

	seal (dir, "k", NULL);
	g_assert_false (g_file_test (key_path, G_FILE_TEST_EXISTS));
	g_assert_false (g_file_test (tmp_path, G_FILE_TEST_EXISTS));
	keys = load_keys (dir, NULL);
	g_assert_cmpuint (keys->len, ==, 1);
	g_assert_true (key_has_bytes (keys->pdata[0], plain));
}

static void
skip_no_creds (void)
{
	g_test_skip ("systemd-creds (systemd 250 or later) is not installed");
}

int
main (int argc, char **argv)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *creds = g_find_program_in_path ("systemd-creds");
	int ret;

	g_test_init (&argc, &argv, NULL);
	tmpdir = g_strdup (g_getenv ("MU_TEST_CREDENTIALS_DIR"));
	if (tmpdir == NULL) {
		tmpdir = g_dir_make_tmp ("mu-creds-XXXXXX", &error);
		g_assert_no_error (error);
		/* A subprocess of g_test_trap_subprocess() works in the same directory. */
		g_setenv ("MU_TEST_CREDENTIALS_DIR", tmpdir, TRUE);
	}
	secret_path = g_build_filename (tmpdir, "host.secret", NULL);
	other_secret_path = g_build_filename (tmpdir, "other-host.secret", NULL);
	g_setenv ("SYSTEMD_CREDENTIAL_SECRET", secret_path, TRUE);

	g_test_add_func ("/credentials/seal-kind", test_seal_kind);
	if (creds == NULL) {
		g_test_add_func ("/credentials/needs-systemd-creds", skip_no_creds);
	} else {
		g_test_add_func ("/credentials/sealed-opens-bundle", test_sealed_opens_bundle);
		g_test_add_func ("/credentials/refused-others-load", test_refused_others_load);
		g_test_add_func ("/credentials/precedence", test_precedence);
		g_test_add_func ("/credentials/write-key", test_write_key);
		g_test_add_func ("/credentials/seal-refusals", test_seal_refusals);
		g_test_add_data_func ("/credentials/crash-after-written", "written", test_crash);
		g_test_add_data_func ("/credentials/crash-after-renamed", "renamed", test_crash);
	}
	ret = g_test_run ();
	if (!g_test_subprocess ())
		mu_test_remove_tree (tmpdir);
	return ret;
}
