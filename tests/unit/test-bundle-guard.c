/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the LUKS2 header may not choose: its ciphers, key and sector sizes,
 * integrity, and what its PBKDFs cost. Each case crafts a header the way a
 * forger would (tests/unit/luks2-edit.py rewrites the JSON of both header
 * copies and recomputes their checksums, so libcryptsetup loads it) and checks
 * the refusal comes before any key trial, or that a trial stays within bounds.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "mu-bundle.h"
#include "mu-error.h"
#include "mu-key.h"
#include "mu-luks.h"
#include "test-luks-util.h"

typedef struct {
	gchar *tmpdir;
	MuKey *main_key; /* "main-2026", in keyslot 0 of good */
	gchar *main_key_path;
	gchar *other_key_path; /* "fallback-1", in keyslot 1 of good */
	gchar *good;           /* 2 keys, tokens, as make-luks-fixture.sh builds them */
	gchar *volume_key;     /* good's volume key, raw */
	gchar *many;           /* 32 keyslots, tokens all naming "main-2026", none opens */
} Fixtures;

static Fixtures *fx;

static void
run (const gchar *first, ...)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	const gchar *arg;
	va_list ap;

	va_start (ap, first);
	for (arg = first; arg != NULL; arg = va_arg (ap, const gchar *))
		g_ptr_array_add (argv, g_strdup (arg));
	va_end (ap);
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_newv ((const gchar *const *) argv->pdata,
				  G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
	g_assert_no_error (error);
	g_subprocess_wait_check (proc, NULL, &error);
	g_assert_no_error (error);
}

static gchar *
source_path (const gchar *name)
{
	const gchar *root = g_getenv ("MEDIAUPD_SOURCE_ROOT");

	g_assert_nonnull (root);
	return g_build_filename (root, "tests", "unit", name, NULL);
}

/* A copy of @src named @name with @edits applied by luks2-edit.py (NULL-terminated
 * argument list), asserted to differ from @src. */
static gchar *
craft (const gchar *src, const gchar *name, ...)
{
	g_autofree gchar *editor = source_path ("luks2-edit.py");
	g_autofree gchar *path = g_build_filename (fx->tmpdir, name, NULL);
	g_autofree gchar *orig = NULL;
	g_autofree gchar *crafted = NULL;
	g_autoptr (GPtrArray) argv = g_ptr_array_new ();
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	gsize orig_len = 0;
	gsize crafted_len = 0;
	const gchar *arg;
	va_list ap;

	g_assert_true (g_file_get_contents (src, &orig, &orig_len, NULL));
	g_file_set_contents (path, orig, (gssize) orig_len, &error);
	g_assert_no_error (error);
	g_ptr_array_add (argv, (gpointer) "python3");
	g_ptr_array_add (argv, editor);
	g_ptr_array_add (argv, path);
	va_start (ap, name);
	while ((arg = va_arg (ap, const gchar *)) != NULL)
		g_ptr_array_add (argv, (gpointer) arg);
	va_end (ap);
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_newv ((const gchar *const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE,
				  &error);
	g_assert_no_error (error);
	g_subprocess_wait_check (proc, NULL, &error);
	g_assert_no_error (error);

	/* The crafted file must be what the test says: not the good one. */
	g_assert_true (g_file_get_contents (path, &crafted, &crafted_len, NULL));
	g_assert_cmpuint (crafted_len, ==, orig_len);
	g_assert_true (memcmp (orig, crafted, orig_len) != 0);
	return g_steal_pointer (&path);
}

static void
fixtures_setup (void)
{
	g_autofree gchar *maker = source_path ("make-luks-fixture.sh");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuCryptDevice) cd = NULL;
	g_autofree gchar *main_arg = NULL;
	g_autofree gchar *other_arg = NULL;
	g_autofree gchar *cryptsetup = g_find_program_in_path ("cryptsetup");
	g_autofree gchar *first_key = NULL;
	char vk[64];
	size_t vk_len = sizeof vk;

	fx = g_new0 (Fixtures, 1);
	fx->tmpdir = g_dir_make_tmp ("mu-bundle-guard-XXXXXX", &error);
	g_assert_no_error (error);
	fx->main_key_path = mu_test_write_random_key (fx->tmpdir, "main-2026", 64, &fx->main_key);
	fx->other_key_path = mu_test_write_random_key (fx->tmpdir, "fallback-1", 64, NULL);
	fx->good = g_build_filename (fx->tmpdir, "good", NULL);
	main_arg = g_strconcat ("main-2026=", fx->main_key_path, NULL);
	other_arg = g_strconcat ("fallback-1=", fx->other_key_path, NULL);
	run (maker, fx->good, "--key", main_arg, "--key", other_arg, NULL);

	/* The volume key, to plant in a keyslot area without encryption. */
	g_assert_cmpint (crypt_init (&cd, fx->good), ==, 0);
	g_assert_cmpint (crypt_load (cd, CRYPT_LUKS2, NULL), ==, 0);
	g_assert_cmpint (crypt_volume_key_get (cd, 0, vk, &vk_len,
					       (const char *) fx->main_key->data,
					       fx->main_key->len),
			 ==, 0);
	g_assert_cmpuint (vk_len, ==, 64);
	fx->volume_key = g_build_filename (fx->tmpdir, "volume-key", NULL);
	g_file_set_contents_full (fx->volume_key, vk, (gssize) vk_len, G_FILE_SET_CONTENTS_NONE,
				  0600, &error);
	g_assert_no_error (error);
	explicit_bzero (vk, sizeof vk);

	/* 32 keyslots whose tokens all name "main-2026"; none holds that key. The
	 * header is 8 MiB (64 KiB JSON per copy, 32 areas), the data 64 KiB. */
	fx->many = g_build_filename (fx->tmpdir, "many", NULL);
	g_file_set_contents (fx->many, "", 0, &error);
	g_assert_no_error (error);
	g_assert_cmpint (truncate (fx->many, 8 * 1024 * 1024 + 64 * 1024), ==, 0);
	first_key = mu_test_write_random_key (fx->tmpdir, "slot-0", 64, NULL);
	run (cryptsetup, "luksFormat", "--type", "luks2", "--batch-mode", "--disable-locks",
	     "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--sector-size", "4096",
	     "--luks2-metadata-size", "64k", "--luks2-keyslots-size", "8257536", "--label",
	     "mediaupd-bundle", "--subsystem", "mediaupd-v1", "--key-file", first_key, fx->many,
	     NULL);
	for (guint i = 0; i < 32; i++) {
		g_autofree gchar *id = g_strdup_printf ("slot-%u", i);
		g_autofree gchar *key = i > 0 ? mu_test_write_random_key (fx->tmpdir, id, 64, NULL)
					      : g_strdup (first_key);
		g_autofree gchar *slot = g_strdup_printf ("%u", i);
		g_autofree gchar *token = g_build_filename (fx->tmpdir, "token.json", NULL);
		g_autofree gchar *json = g_strdup_printf (
			"{\"type\":\"mediaupd-keyid\",\"keyslots\":[\"%u\"],\"key_id\":\"main-2026\"}",
			i);

		if (i > 0)
			run (cryptsetup, "luksAddKey", "--batch-mode", "--disable-locks", "--pbkdf",
			     "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file", first_key,
			     "--new-key-slot", slot, fx->many, key, NULL);
		g_file_set_contents (token, json, -1, &error);
		g_assert_no_error (error);
		run (cryptsetup, "token", "import", "--disable-locks", "--json-file", token,
		     "--token-id", slot, fx->many, NULL);
	}
}

static void
fixtures_teardown (void)
{
	g_autofree gchar *rm = g_find_program_in_path ("rm");

	run (rm, "-rf", fx->tmpdir, NULL);
	mu_key_free (fx->main_key);
	g_free (fx->main_key_path);
	g_free (fx->other_key_path);
	g_free (fx->good);
	g_free (fx->volume_key);
	g_free (fx->many);
	g_free (fx->tmpdir);
	g_free (fx);
}

static GPtrArray *
new_trials (void)
{
	return g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_trial_free);
}

static MuBundle *
open_ok (const gchar *path)
{
	g_autoptr (GError) error = NULL;
	MuBundle *bundle = mu_bundle_open (path, &error);

	g_assert_no_error (error);
	return bundle;
}

/* The device's key "main-2026" against @path: refused with @code, no trial run. */
static void
assert_refused_untried (const gchar *path, const gchar *const *extra, MuErrorCode code,
			const gchar *needle)
{
	g_autoptr (MuBundle) bundle = open_ok (path);
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	g_ptr_array_add (keys, fx->main_key);
	mu_bundle_set_extra_ciphers (bundle, extra);
	g_assert_false (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_error (error, MU_ERROR, (gint) code);
	g_test_message ("%s: %s", mu_error_code_to_name (code), error->message);
	g_assert_nonnull (strstr (error->message, needle));
	g_assert_cmpuint (trials->len, ==, 0);
	g_assert_cmpint (slot, ==, -1);
}

/* The format's own bundle opens, with one hinted trial. */
static void
test_format_accepted (void)
{
	g_autoptr (MuBundle) bundle = open_ok (fx->good);
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	g_ptr_array_add (keys, fx->main_key);
	g_assert_true (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 0);
	g_assert_cmpuint (trials->len, ==, 1);
	g_assert_true (((MuKeyTrial *) g_ptr_array_index (trials, 0))->tried);
}

/*
 * A keyslot area holding the volume key in clear, marked cipher_null. Measured
 * on Debian 12 (libcryptsetup 2.6.1): the library itself refuses to open such
 * a keyslot ("Cannot use cipher_null-ecb cipher for keyslot encryption",
 * -EOPNOTSUPP), in every spelling tried (cipher_null, cipher_null-ecb,
 * capi:ecb(cipher_null)-plain64), so there it does not open with any key; the
 * engine refuses it before any PBKDF all the same, so that no library version
 * is relied on.
 */
static void
test_cipher_null_keyslot (void)
{
	/* clang-format off */
	static const gchar *const spellings[] = {
		"cipher_null-ecb", "cipher_null", "capi:ecb(cipher_null)-plain64", "Cipher_Null-ecb",
	};
	/* clang-format on */

	for (guint i = 0; i < G_N_ELEMENTS (spellings); i++) {
		g_autofree gchar *set = g_strdup_printf ("keyslots.0.area.encryption=\"%s\"",
							 spellings[i]);
		g_autofree gchar *name = g_strdup_printf ("null-keyslot-%u", i);
		g_autofree gchar *path = craft (fx->good, name, "--null-keyslot", "0",
						"--volume-key", fx->volume_key, "--set", set, NULL);
		g_autoptr (MuCryptDevice) cd = NULL;
		const gchar *any_key = "not the key, not even close, but 32+ bytes long";
		const gchar *allow_all[] = { spellings[i], NULL };
		int r;

		/* Without the guard: what libcryptsetup makes of it with a wrong key. */
		g_assert_cmpint (crypt_init (&cd, path), ==, 0);
		mu_luks_set_device_logging (cd);
		g_assert_cmpint (crypt_load (cd, CRYPT_LUKS2, NULL), ==, 0);
		r = crypt_activate_by_passphrase (cd, NULL, 0, any_key, strlen (any_key),
						  CRYPT_ACTIVATE_READONLY);
		g_test_message ("libcryptsetup %s: %s keyslot with a wrong key: %d", "2.6",
				spellings[i], r);
		g_assert_cmpint (r, <, 0);

		/* With it: refused before any trial, even when configured as allowed. */
		assert_refused_untried (path, NULL, MU_ERROR_CORRUPT_BUNDLE, "unencrypted");
		assert_refused_untried (path, allow_all, MU_ERROR_CORRUPT_BUNDLE, "unencrypted");
	}
}

static void
test_keyslot_cipher (void)
{
	g_autofree gchar *path = craft (fx->good, "keyslot-serpent", "--set",
					"keyslots.1.area.encryption=\"serpent-xts-plain64\"", NULL);
	g_autofree gchar *small = craft (fx->good, "keyslot-small-key", "--set",
					 "keyslots.0.area.key_size=32", NULL);

	assert_refused_untried (path, NULL, MU_ERROR_UNSUPPORTED_FORMAT, "'serpent-xts-plain64'");
	assert_refused_untried (small, NULL, MU_ERROR_UNSUPPORTED_FORMAT, "256-bit");
}

/* A changed segment cipher: refused, unless the configuration allows it. */
static void
test_segment_cipher (void)
{
	g_autofree gchar *serpent = craft (fx->good, "segment-serpent", "--set",
					   "segments.0.encryption=\"serpent-xts-plain64\"", NULL);
	g_autofree gchar *null = craft (fx->good, "segment-null", "--set",
					"segments.0.encryption=\"cipher_null-ecb\"", NULL);
	g_autofree gchar *sector = craft (fx->good, "segment-512", "--set",
					  "segments.0.sector_size=512", NULL);
	const gchar *allow_serpent[] = { "serpent-xts-plain64", NULL };
	g_autoptr (MuBundle) bundle = NULL;
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	assert_refused_untried (serpent, NULL, MU_ERROR_UNSUPPORTED_FORMAT, "Ciphers=");
	assert_refused_untried (null, allow_serpent, MU_ERROR_CORRUPT_BUNDLE, "unencrypted");
	assert_refused_untried (sector, NULL, MU_ERROR_UNSUPPORTED_FORMAT, "512-byte sectors");

	/* Allowed: the keyslots are the format's, so the key opens. */
	bundle = open_ok (serpent);
	g_ptr_array_add (keys, fx->main_key);
	mu_bundle_set_extra_ciphers (bundle, allow_serpent);
	g_assert_true (mu_bundle_try_keys (bundle, keys, NULL, NULL, &slot, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 0);
}

/* An integrity-protected data segment (dm-integrity under dm-crypt). */
static void
test_integrity (void)
{
	g_autofree gchar *path =
		craft (fx->good, "integrity", "--set",
		       "segments.0.integrity={\"type\":\"hmac(sha256)\","
		       "\"journal_encryption\":\"none\",\"journal_integrity\":\"none\"}",
		       NULL);
	g_autoptr (MuCryptDevice) cd = NULL;
	struct crypt_params_integrity ip = { 0 };

	/* libcryptsetup itself reads it as integrity-protected. */
	g_assert_cmpint (crypt_init (&cd, path), ==, 0);
	g_assert_cmpint (crypt_load (cd, CRYPT_LUKS2, NULL), ==, 0);
	g_assert_cmpint (crypt_get_integrity_info (cd, &ip), ==, 0);
	g_assert_cmpstr (ip.integrity, ==, "hmac(sha256)");
	assert_refused_untried (path, NULL, MU_ERROR_UNSUPPORTED_FORMAT, "integrity");
}

/* argon2id keyslots a small board must never run: recorded as not tried. */
static void
test_argon2_not_tried (void)
{
	static const struct {
		const gchar *kdf;
		gint result;
	} cases[] = {
		{ "{\"type\":\"argon2id\",\"time\":4,\"memory\":65536,\"cpus\":65535,", -E2BIG },
		{ "{\"type\":\"argon2id\",\"time\":4,\"memory\":4194304,\"cpus\":1,", -E2BIG },
		{ "{\"type\":\"argon2id\",\"time\":100000,\"memory\":1024,\"cpus\":1,", -E2BIG },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *set = g_strdup_printf (
			"keyslots.0.kdf=%s\"salt\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
			cases[i].kdf);
		g_autofree gchar *name = g_strdup_printf ("argon2-%u", i);
		g_autofree gchar *path = craft (fx->good, name, "--set", set, NULL);
		g_autoptr (MuBundle) bundle = open_ok (path);
		g_autoptr (GPtrArray) keys = g_ptr_array_new ();
		g_autoptr (GPtrArray) trials = new_trials ();
		g_autoptr (GError) error = NULL;
		const MuBundleKeyslot *ks =
			g_ptr_array_index (mu_bundle_get_info (bundle)->keyslots, 0);
		const MuKeyTrial *trial;
		gint64 start = g_get_monotonic_time ();
		gint slot = -1;

		g_assert_cmpstr (ks->pbkdf_type, ==, "argon2id");
		g_ptr_array_add (keys, fx->main_key);
		g_assert_false (
			mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
		g_test_message ("%s", error->message);
		trial = g_ptr_array_index (trials, 0);
		g_assert_cmpint (trial->slot, ==, 0);
		g_assert_true (trial->hinted);
		g_assert_false (trial->tried);
		g_assert_cmpint (trial->result, ==, cases[i].result);
		g_assert_cmpint (trial->duration_us, ==, 0);
		g_assert_nonnull (strstr (error->message, "its slot 0: PBKDF over this device's "
							  "limits, not tried"));
		/* Slot 1 (pbkdf2) was tried, and is all the time spent. */
		g_assert_cmpuint (trials->len, ==, 2);
		g_assert_true (((MuKeyTrial *) g_ptr_array_index (trials, 1))->tried);
		g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
	}
}

/* 32 keyslots at the pbkdf2 limit whose tokens name the device's key: the trials
 * stop when their time is up, not after 32 PBKDFs. */
static void
test_trial_budget (void)
{
	g_autoptr (GPtrArray) edit = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *editor = source_path ("luks2-edit.py");
	g_autofree gchar *path = g_build_filename (fx->tmpdir, "many-at-limit", NULL);
	g_autoptr (MuBundle) bundle = NULL;
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree gchar *contents = NULL;
	MuPbkdfLimits limits;
	const MuKeyTrial *last;
	gint64 start;
	gint64 elapsed;
	gint64 one_trial = 0;
	gsize len = 0;
	gint slot = -1;

	g_assert_true (g_file_get_contents (fx->many, &contents, &len, NULL));
	g_file_set_contents (path, contents, (gssize) len, &error);
	g_assert_no_error (error);
	g_ptr_array_add (edit, g_strdup ("python3"));
	g_ptr_array_add (edit, g_strdup (editor));
	g_ptr_array_add (edit, g_strdup (path));
	for (guint i = 0; i < 32; i++) {
		g_ptr_array_add (edit, g_strdup ("--set"));
		g_ptr_array_add (edit, g_strdup_printf ("keyslots.%u.kdf.iterations=%u", i,
							MU_PBKDF2_MAX_ITERATIONS_DEFAULT));
	}
	g_ptr_array_add (edit, NULL);
	proc = g_subprocess_newv ((const gchar *const *) edit->pdata, G_SUBPROCESS_FLAGS_NONE,
				  &error);
	g_assert_no_error (error);
	g_subprocess_wait_check (proc, NULL, &error);
	g_assert_no_error (error);

	bundle = open_ok (path);
	g_assert_cmpuint (mu_bundle_get_info (bundle)->keyslots->len, ==, 32);
	for (guint i = 0; i < 32; i++) {
		const MuBundleKeyslot *ks =
			g_ptr_array_index (mu_bundle_get_info (bundle)->keyslots, i);

		g_assert_cmpstr (ks->key_id, ==, "main-2026");
		g_assert_cmpuint (ks->pbkdf_iterations, ==, MU_PBKDF2_MAX_ITERATIONS_DEFAULT);
	}
	mu_pbkdf_limits_init (&limits);
	limits.max_trial_seconds = 2;
	mu_bundle_set_pbkdf_limits (bundle, &limits);
	g_ptr_array_add (keys, fx->main_key);

	start = g_get_monotonic_time ();
	g_assert_false (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	elapsed = g_get_monotonic_time () - start;
	g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
	g_test_message ("%u trials in %.2f s: %s", trials->len, (gdouble) elapsed / G_USEC_PER_SEC,
			error->message);
	g_assert_nonnull (strstr (error->message, "MaxTrialSeconds"));
	g_assert_cmpint (elapsed, >=, 2 * G_USEC_PER_SEC);
	g_assert_cmpint (elapsed, <, 2 * G_USEC_PER_SEC + G_USEC_PER_SEC / 4);
	g_assert_cmpuint (trials->len, <, 32);
	last = g_ptr_array_index (trials, trials->len - 1);
	g_assert_cmpint (last->result, ==, -ETIMEDOUT);
	for (guint i = 0; i + 1 < trials->len; i++) {
		const MuKeyTrial *trial = g_ptr_array_index (trials, i);

		g_assert_true (trial->hinted);
		g_assert_cmpint (trial->result, ==, -EPERM);
		one_trial = MAX (one_trial, trial->duration_us);
	}
	/* The one abandoned PBKDF ends on its own within one trial's time. */
	g_test_message ("one PBKDF at the limit: %.0f ms", (gdouble) one_trial / 1000);
}

/* Cancelling during one PBKDF returns at once, not when the PBKDF is done. */
static gpointer
cancel_later (gpointer data)
{
	g_usleep (100 * 1000);
	g_cancellable_cancel (data);
	return NULL;
}

static void
test_cancel_within_trial (void)
{
	g_autofree gchar *path = craft (fx->good, "slow-slot", "--set",
					"keyslots.0.kdf.iterations=10000000", NULL);
	g_autoptr (MuBundle) bundle = open_ok (path);
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GCancellable) cancellable = g_cancellable_new ();
	g_autoptr (GError) error = NULL;
	MuPbkdfLimits limits;
	GThread *canceller;
	gint64 start;
	gint64 elapsed;
	gint slot = -1;

	/* 1e7 iterations: seconds even on a fast PC, over the default limit. The
	 * abandoned PBKDF finishes in the background. */
	mu_pbkdf_limits_init (&limits);
	limits.pbkdf2_max_iterations = 10000000;
	mu_bundle_set_pbkdf_limits (bundle, &limits);
	g_ptr_array_add (keys, fx->main_key);
	canceller = g_thread_new ("canceller", cancel_later, cancellable);
	start = g_get_monotonic_time ();
	g_assert_false (
		mu_bundle_try_keys (bundle, keys, trials, cancellable, &slot, NULL, &error));
	elapsed = g_get_monotonic_time () - start;
	g_thread_join (canceller);
	g_assert_error (error, MU_ERROR, MU_ERROR_CANCELLED);
	g_test_message ("cancelled after %.0f ms", (gdouble) elapsed / 1000);
	g_assert_cmpint (elapsed, <, 400 * 1000);
	g_assert_cmpuint (trials->len, ==, 1);
	g_assert_cmpint (((MuKeyTrial *) g_ptr_array_index (trials, 0))->result, ==, -ECANCELED);
}

/* The header a trial reads must be the one that was checked. */
static void
test_header_changed (void)
{
	g_autofree gchar *path = g_build_filename (fx->tmpdir, "changing", NULL);
	g_autofree gchar *editor = source_path ("luks2-edit.py");
	g_autofree gchar *contents = NULL;
	g_autoptr (MuBundle) bundle = NULL;
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	gsize len = 0;
	gint slot = -1;

	g_assert_true (g_file_get_contents (fx->good, &contents, &len, NULL));
	g_file_set_contents (path, contents, (gssize) len, &error);
	g_assert_no_error (error);
	bundle = open_ok (path);
	/* After the check, before the trial: a keyslot turns into cipher_null. */
	run ("python3", editor, path, "--null-keyslot", "0", "--volume-key", fx->volume_key, NULL);
	g_ptr_array_add (keys, fx->main_key);
	g_assert_false (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
	g_assert_nonnull (strstr (error->message, "read differently"));
	g_assert_cmpint (((MuKeyTrial *) g_ptr_array_index (trials, 0))->result, ==, -ESTALE);
}

/* The pure check against hand-written JSON. */
static void
test_check_encryption_json (void)
{
	static const struct {
		const gchar *json;
		guint key_size;
		MuErrorCode code; /* MU_ERROR_LAST: accepted */
	} cases[] = {
	/* clang-format off */
#define SLOT(enc, ks) "{\"type\":\"luks2\",\"key_size\":64,\"area\":{\"encryption\":\"" enc "\",\"key_size\":" ks "}}"
#define SEG(enc, sector) "{\"0\":{\"type\":\"crypt\",\"encryption\":\"" enc "\",\"sector_size\":" sector "}}"
		{ "{\"keyslots\":{\"0\":" SLOT ("aes-xts-plain64", "64") "},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 64, MU_ERROR_LAST },
		{ "{\"keyslots\":{},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 64, MU_ERROR_LAST },
		{ "{\"keyslots\":{\"0\":" SLOT ("aes-xts-plain64", "64") "},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 32, MU_ERROR_UNSUPPORTED_FORMAT },
		{ "{\"keyslots\":{\"0\":" SLOT ("aes-cbc-essiv:sha256", "32") "},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 64, MU_ERROR_UNSUPPORTED_FORMAT },
		{ "{\"keyslots\":{\"0\":" SLOT ("cipher_null-ecb", "64") "},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 64, MU_ERROR_CORRUPT_BUNDLE },
		{ "{\"keyslots\":{\"0\":{\"type\":\"luks2\",\"key_size\":64,\"area\":{}}},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 64, MU_ERROR_CORRUPT_BUNDLE },
		{ "{\"keyslots\":{\"0\":{\"type\":\"reencrypt\",\"key_size\":1,\"area\":{}}},\"segments\":" SEG ("aes-xts-plain64", "4096") "}", 64, MU_ERROR_UNSUPPORTED_FORMAT },
		{ "{\"keyslots\":{},\"segments\":" SEG ("aes-xts-plain64", "1024") "}", 64, MU_ERROR_UNSUPPORTED_FORMAT },
		{ "{\"keyslots\":{},\"segments\":{\"0\":{\"encryption\":\"aes-xts-plain64\",\"sector_size\":4096},\"1\":{}}}", 64, MU_ERROR_CORRUPT_BUNDLE },
		{ "{\"keyslots\":{},\"segments\":{}}", 64, MU_ERROR_CORRUPT_BUNDLE },
		{ "{\"segments\":{}}", 64, MU_ERROR_CORRUPT_BUNDLE },
		{ "[]", 64, MU_ERROR_CORRUPT_BUNDLE },
		{ "{", 64, MU_ERROR_CORRUPT_BUNDLE },
#undef SLOT
#undef SEG
		/* clang-format on */
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) json = g_bytes_new_static (cases[i].json,
							      strlen (cases[i].json));
		g_autoptr (GError) error = NULL;
		gboolean ok = mu_bundle_check_encryption (json, cases[i].key_size, NULL, &error);

		g_test_message ("%s: %s", cases[i].json,
				error != NULL ? error->message : "accepted");
		if (cases[i].code == MU_ERROR_LAST) {
			g_assert_no_error (error);
			g_assert_true (ok);
		} else {
			g_assert_error (error, MU_ERROR, (gint) cases[i].code);
			g_assert_false (ok);
		}
	}
}

int
main (int argc, char **argv)
{
	int r;

	g_test_init (&argc, &argv, NULL);
	mu_luks_init ();
	fixtures_setup ();
	g_test_add_func ("/bundle-guard/format-accepted", test_format_accepted);
	g_test_add_func ("/bundle-guard/check-encryption-json", test_check_encryption_json);
	g_test_add_func ("/bundle-guard/cipher-null-keyslot", test_cipher_null_keyslot);
	g_test_add_func ("/bundle-guard/keyslot-cipher", test_keyslot_cipher);
	g_test_add_func ("/bundle-guard/segment-cipher", test_segment_cipher);
	g_test_add_func ("/bundle-guard/integrity", test_integrity);
	g_test_add_func ("/bundle-guard/argon2-not-tried", test_argon2_not_tried);
	g_test_add_func ("/bundle-guard/trial-budget", test_trial_budget);
	g_test_add_func ("/bundle-guard/cancel-within-trial", test_cancel_within_trial);
	g_test_add_func ("/bundle-guard/header-changed", test_header_changed);
	r = g_test_run ();
	fixtures_teardown ();
	return r;
}
