/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "mu-bundle-format.h"
#include "mu-bundle.h"
#include "mu-error.h"
#include "mu-luks.h"
#include "test-luks-util.h"

/* "LEVEL MESSAGE" of every libcryptsetup line this process logged (see main()). */
static GPtrArray *luks_log;

static GLogWriterOutput
record_luks_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	for (gsize i = 0; i < n_fields; i++) {
		const gchar *value = fields[i].value;

		if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0 &&
		    g_str_has_prefix (value, "libcryptsetup: "))
			g_ptr_array_add (luks_log,
					 g_strdup_printf ("%d %s", level & G_LOG_LEVEL_MASK,
							  value));
	}
	return g_log_writer_default (level, fields, n_fields, user_data);
}

/* The three keys of the test bundles, in keyslots 0, 1, 2. */
static const gchar *const key_ids[] = { "main-2026", "fallback-1", "old.v2" };

static MuBundle *
open_ok (const gchar *path)
{
	g_autoptr (GError) error = NULL;
	MuBundle *bundle = mu_bundle_open (path, &error);

	g_assert_no_error (error);
	g_assert_nonnull (bundle);
	return bundle;
}

static void
assert_open_fails (const gchar *path, MuErrorCode code)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuBundle) bundle = mu_bundle_open (path, &error);

	g_assert_error (error, MU_ERROR, (gint) code);
	g_assert_null (bundle);
	g_test_message ("%s: %s", mu_error_code_to_name (code), error->message);
}

static GPtrArray *
new_trials (void)
{
	return g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_trial_free);
}

static GPtrArray *
keys_of (MuKey *first, ...)
{
	GPtrArray *keys = g_ptr_array_new ();
	va_list ap;

	va_start (ap, first);
	for (MuKey *key = first; key != NULL; key = va_arg (ap, MuKey *))
		g_ptr_array_add (keys, key);
	va_end (ap);
	return keys;
}

static void
assert_trial (GPtrArray *trials, guint index, const gchar *key_id, gint slot, gboolean hinted,
	      gint result)
{
	const MuKeyTrial *trial;

	g_assert_cmpuint (index, <, trials->len);
	trial = g_ptr_array_index (trials, index);
	g_assert_cmpstr (trial->key_id, ==, key_id);
	g_assert_cmpint (trial->slot, ==, slot);
	g_assert_cmpint (trial->hinted, ==, hinted);
	g_assert_cmpint (trial->result, ==, result);
	g_assert_cmpint (trial->duration_us, >=, 0);
}

static void
test_inspect (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	const MuBundleInfo *info = mu_bundle_get_info (bundle);
	g_autoptr (GError) error = NULL;
	g_autoptr (GFileInfo) finfo = NULL;
	g_autoptr (GFile) file = g_file_new_for_path (fx->three);

	finfo = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
				   NULL, &error);
	g_assert_no_error (error);

	g_assert_cmpstr (mu_bundle_get_path (bundle), ==, fx->three);
	g_assert_nonnull (mu_bundle_get_crypt_device (bundle));
	g_assert_cmpuint (info->format_version, ==, 1);
	g_assert_cmpstr (info->label, ==, MU_BUNDLE_LUKS_LABEL);
	g_assert_cmpstr (info->subsystem, ==, MU_BUNDLE_LUKS_SUBSYSTEM_V1);
	g_assert_nonnull (info->uuid);
	g_assert_cmpstr (info->cipher, ==, "aes");
	g_assert_cmpstr (info->cipher_mode, ==, "xts-plain64");
	g_assert_cmpuint (info->key_size, ==, 64);
	g_assert_cmpuint (info->sector_size, ==, 4096);
	/* --reduce-device-size 4M puts the data at 2 MiB; the 1 MiB payload plus
	 * the 2 MiB of the reduction that stay behind it make 3 MiB of data. */
	g_assert_cmpuint (info->file_size, ==, (guint64) g_file_info_get_size (finfo));
	g_assert_cmpuint (info->data_offset, ==, 2 * 1024 * 1024);
	g_assert_true (info->data_size_dynamic);
	g_assert_cmpuint (info->data_size, ==, info->file_size - info->data_offset);
	g_assert_cmpuint (info->data_size, ==, 3 * 1024 * 1024);

	g_assert_cmpuint (info->keyslots->len, ==, 3);
	for (guint i = 0; i < 3; i++) {
		const MuBundleKeyslot *ks = g_ptr_array_index (info->keyslots, i);

		g_assert_cmpint (ks->slot, ==, i);
		g_assert_cmpint (ks->status, ==, MU_BUNDLE_KEYSLOT_ACTIVE);
		g_assert_cmpint (ks->priority, ==, CRYPT_SLOT_PRIORITY_NORMAL);
		g_assert_cmpstr (ks->pbkdf_type, ==, "pbkdf2");
		g_assert_cmpstr (ks->pbkdf_hash, ==, "sha256");
		g_assert_cmpuint (ks->pbkdf_iterations, ==, 1000);
		g_assert_cmpuint (ks->pbkdf_memory_kib, ==, 0);
		g_assert_cmpint (ks->token, ==, i);
		g_assert_cmpstr (ks->key_id, ==, key_ids[i]);
		g_assert_true (mu_bundle_info_find_key_id (info, key_ids[i]) == ks);
	}
	g_assert_null (mu_bundle_info_find_key_id (info, "spare-a"));
}

static void
test_inspect_no_tokens (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->no_tokens);
	const MuBundleInfo *info = mu_bundle_get_info (bundle);

	g_assert_cmpuint (info->keyslots->len, ==, 3);
	for (guint i = 0; i < 3; i++) {
		const MuBundleKeyslot *ks = g_ptr_array_index (info->keyslots, i);

		g_assert_cmpint (ks->token, ==, -1);
		g_assert_null (ks->key_id);
	}
}

/* Tokens that name no valid key id, more than one slot, or are of another
 * type give no hint; the keys still open their slots by trying. */
static void
test_bad_tokens_ignored (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->bad_tokens);
	const MuBundleInfo *info = mu_bundle_get_info (bundle);
	g_autoptr (GPtrArray) keys = keys_of (fx->keys[1], NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	g_assert_cmpuint (info->keyslots->len, ==, 3);
	for (guint i = 0; i < 3; i++) {
		const MuBundleKeyslot *ks = g_ptr_array_index (info->keyslots, i);

		g_assert_null (ks->key_id);
		g_assert_cmpint (ks->token, ==, -1);
	}
	g_assert_true (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 1);
	g_assert_cmpuint (trials->len, ==, 2);
	assert_trial (trials, 0, "fallback-1", 0, FALSE, -EPERM);
	assert_trial (trials, 1, "fallback-1", 1, FALSE, 1);
}

/* A keyslot bound to no data segment holds no key for the data: it is listed,
 * but never tried, not even when a token names it. */
static void
test_unbound_slot_never_tried (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->unbound);
	const MuBundleInfo *info = mu_bundle_get_info (bundle);
	const MuBundleKeyslot *ks;
	g_autoptr (GPtrArray) keys = keys_of (fx->spare_b, NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	g_assert_cmpuint (info->keyslots->len, ==, 4);
	ks = g_ptr_array_index (info->keyslots, 3);
	g_assert_cmpint (ks->slot, ==, 3);
	g_assert_cmpint (ks->status, ==, MU_BUNDLE_KEYSLOT_UNBOUND);
	g_assert_cmpstr (ks->key_id, ==, "spare-b");
	g_assert_false (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
	g_assert_cmpuint (trials->len, ==, 3);
	for (guint s = 0; s < 3; s++)
		assert_trial (trials, s, "spare-b", s, FALSE, -EPERM);
}

/* Each key opens exactly its slot, hinted by its token: one PBKDF each. */
static void
test_each_key_opens_its_slot (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);

	for (guint i = 0; i < 3; i++) {
		g_autoptr (GPtrArray) keys = keys_of (fx->keys[i], NULL);
		g_autoptr (GPtrArray) trials = new_trials ();
		g_autoptr (GError) error = NULL;
		const MuKey *opened = NULL;
		gint slot = -1;

		g_assert_true (
			mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, &opened, &error));
		g_assert_no_error (error);
		g_assert_cmpint (slot, ==, i);
		g_assert_true (opened == fx->keys[i]);
		g_assert_cmpuint (trials->len, ==, 1);
		assert_trial (trials, 0, key_ids[i], i, TRUE, i);
	}
}

/* Keys without a token go after hinted ones: the matching key costs one PBKDF
 * even when the device lists other keys first. */
static void
test_hinted_first (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	g_autoptr (GPtrArray) keys = keys_of (fx->spare_a, fx->spare_b, fx->keys[2], NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	const MuKey *opened = NULL;
	gint slot = -1;

	g_assert_true (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, &opened, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 2);
	g_assert_true (opened == fx->keys[2]);
	g_assert_cmpuint (trials->len, ==, 1);
	assert_trial (trials, 0, "old.v2", 2, TRUE, 2);
}

/* Without tokens, every key is tried against every slot until one opens. */
static void
test_no_tokens_tries_all (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->no_tokens);
	g_autoptr (GPtrArray) keys = keys_of (fx->spare_a, fx->keys[2], NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	const MuKey *opened = NULL;
	gint slot = -1;

	g_assert_true (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, &opened, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 2);
	g_assert_true (opened == fx->keys[2]);
	g_assert_cmpuint (trials->len, ==, 6);
	for (guint s = 0; s < 3; s++)
		assert_trial (trials, s, "spare-a", s, FALSE, -EPERM);
	assert_trial (trials, 3, "old.v2", 0, FALSE, -EPERM);
	assert_trial (trials, 4, "old.v2", 1, FALSE, -EPERM);
	assert_trial (trials, 5, "old.v2", 2, FALSE, 2);
}

/* A key whose id names another slot than the one it opens: the hint fails,
 * the search finds it. */
static void
test_wrong_hint_falls_back (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) renamed = mu_key_new ("main-2026", fx->keys[1]->data, fx->keys[1]->len,
						&error);
	g_autoptr (GPtrArray) keys = keys_of (renamed, NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	gint slot = -1;

	g_assert_no_error (error);
	g_assert_true (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 1);
	g_assert_cmpuint (trials->len, ==, 2);
	assert_trial (trials, 0, "main-2026", 0, TRUE, -EPERM);
	assert_trial (trials, 1, "main-2026", 1, FALSE, 1);
}

static void
test_wrong_keys (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	g_autoptr (GPtrArray) keys = keys_of (fx->wrong_main, fx->spare_a, NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GError) error = NULL;
	const MuKey *opened = NULL;
	gint slot = -7;

	g_assert_false (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, &opened, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
	g_test_message ("%s", error->message);
	/* Output parameters stay untouched on failure. */
	g_assert_cmpint (slot, ==, -7);
	g_assert_null (opened);
	g_assert_nonnull (strstr (error->message, "'main-2026' (its slot 0: wrong key; "
						  "2 other slots: wrong key)"));
	g_assert_nonnull (strstr (error->message, "'spare-a' (3 slots: wrong key)"));
	g_assert_nonnull (strstr (error->message, "'fallback-1'"));
	/* The hinted slot first, then the other two; then the spare key on all three. */
	g_assert_cmpuint (trials->len, ==, 6);
	assert_trial (trials, 0, "main-2026", 0, TRUE, -EPERM);
	assert_trial (trials, 1, "main-2026", 1, FALSE, -EPERM);
	assert_trial (trials, 2, "main-2026", 2, FALSE, -EPERM);
	for (guint s = 0; s < 3; s++)
		assert_trial (trials, 3 + s, "spare-a", s, FALSE, -EPERM);
}

/* Keyslots whose PBKDF is over the limits are recorded, never run. */
static void
test_pbkdf_limits (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	g_autoptr (GPtrArray) keys = keys_of (fx->keys[0], NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GPtrArray) again = new_trials ();
	g_autoptr (GError) error = NULL;
	const MuPbkdfLimits *defaults = mu_bundle_get_pbkdf_limits (bundle);
	MuPbkdfLimits tight = *defaults;
	gint slot = -1;

	g_assert_cmpuint (defaults->pbkdf2_max_iterations, ==, MU_PBKDF2_MAX_ITERATIONS_DEFAULT);
	tight.pbkdf2_max_iterations = 999;
	mu_bundle_set_pbkdf_limits (bundle, &tight);
	g_assert_false (mu_bundle_try_keys (bundle, keys, trials, NULL, &slot, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
	g_assert_nonnull (strstr (error->message, "over this device's limits"));
	g_assert_cmpuint (trials->len, ==, 3);
	assert_trial (trials, 0, "main-2026", 0, TRUE, -E2BIG);
	assert_trial (trials, 1, "main-2026", 1, FALSE, -E2BIG);
	assert_trial (trials, 2, "main-2026", 2, FALSE, -E2BIG);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpint (((MuKeyTrial *) g_ptr_array_index (trials, i))->duration_us, ==,
				 0);

	/* Exactly at the limit is allowed. */
	g_clear_error (&error);
	tight.pbkdf2_max_iterations = 1000;
	mu_bundle_set_pbkdf_limits (bundle, &tight);
	g_assert_true (mu_bundle_try_keys (bundle, keys, again, NULL, &slot, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (slot, ==, 0);
}

static void
test_no_keys (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	g_assert_false (mu_bundle_try_keys (bundle, keys, NULL, NULL, &slot, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
}

static void
test_cancelled (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (MuBundle) bundle = open_ok (fx->three);
	g_autoptr (GPtrArray) keys = keys_of (fx->keys[0], NULL);
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autoptr (GCancellable) cancellable = g_cancellable_new ();
	g_autoptr (GError) error = NULL;
	gint slot = -1;

	g_cancellable_cancel (cancellable);
	g_assert_false (
		mu_bundle_try_keys (bundle, keys, trials, cancellable, &slot, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CANCELLED);
	g_assert_cmpuint (trials->len, ==, 0);
}

static void
test_foreign_label (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->foreign, MU_ERROR_NOT_A_BUNDLE);
}

static void
test_no_label (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->no_label, MU_ERROR_NOT_A_BUNDLE);
}

static void
test_other_subsystem (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->other_subsystem, MU_ERROR_NOT_A_BUNDLE);
}

static void
test_unsupported_version (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->future, MU_ERROR_UNSUPPORTED_FORMAT);
}

static void
test_luks1 (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->luks1, MU_ERROR_NOT_A_BUNDLE);
}

static void
test_not_luks (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->random, MU_ERROR_NOT_A_BUNDLE);
	assert_open_fails (fx->empty, MU_ERROR_NOT_A_BUNDLE);
	assert_open_fails (fx->directory, MU_ERROR_NOT_A_BUNDLE);
}

static void
test_missing (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autofree gchar *path = g_build_filename (fx->tmpdir, "absent.bundle", NULL);

	assert_open_fails (path, MU_ERROR_NOT_FOUND);
}

static void
test_truncated (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	/* Inside the keyslot area, just at the data offset, inside the last sector. */
	assert_open_fails (fx->cut_in_header, MU_ERROR_CORRUPT_BUNDLE);
	assert_open_fails (fx->cut_at_data, MU_ERROR_CORRUPT_BUNDLE);
	assert_open_fails (fx->cut_mid_sector, MU_ERROR_CORRUPT_BUNDLE);
}

static void
test_damaged_headers (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->damaged_both, MU_ERROR_CORRUPT_BUNDLE);
}

/* One good header copy is enough, and opening never rewrites the file. */
static void
test_damaged_primary (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	gsize before_len = 0;
	gsize after_len = 0;

	g_assert_true (g_file_get_contents (fx->damaged_primary, &before, &before_len, NULL));
	{
		g_autoptr (MuBundle) bundle = open_ok (fx->damaged_primary);
		g_autoptr (GPtrArray) keys = keys_of (fx->keys[1], NULL);
		g_autoptr (GError) error = NULL;
		gint slot = -1;

		g_assert_true (mu_bundle_try_keys (bundle, keys, NULL, NULL, &slot, NULL, &error));
		g_assert_no_error (error);
		g_assert_cmpint (slot, ==, 1);
	}
	g_assert_true (g_file_get_contents (fx->damaged_primary, &after, &after_len, NULL));
	g_assert_cmpmem (before, before_len, after, after_len);
}

/* The stick is hostile: damaged headers give one of the bundle errors (or,
 * with one good header copy left, open), never a crash or another error. */
static void
test_header_mutations (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autofree gchar *path = g_build_filename (fx->tmpdir, "mutated.bundle", NULL);
	g_autofree gchar *contents = NULL;
	g_autoptr (GError) error = NULL;
	gsize size = 0;
	guint opened = 0;

	g_file_get_contents (fx->three, &contents, &size, &error);
	g_assert_no_error (error);
	for (guint round = 0; round < 48; round++) {
		/* Mostly the two 16 KiB header copies, sometimes the keyslot areas. */
		gsize span = round % 4 == 3 ? 2 * 1024 * 1024 : 32 * 1024;
		gsize offset = (gsize) g_test_rand_int_range (0, (gint32) span);
		gboolean both = round % 2 == 1 && offset < 16 * 1024;
		g_autoptr (MuBundle) bundle = NULL;
		g_autoptr (GError) open_error = NULL;
		gchar saved = contents[offset];

		contents[offset] = (gchar) (contents[offset] ^ (1 << (round % 8)));
		if (both)
			contents[offset + 16 * 1024] ^= (gchar) (1 << (round % 8));
		g_file_set_contents (path, contents, (gssize) size, &error);
		g_assert_no_error (error);
		bundle = mu_bundle_open (path, &open_error);
		if (bundle != NULL) {
			opened++;
		} else {
			g_test_message ("byte %" G_GSIZE_FORMAT "%s: %s", offset,
					both ? " (both copies)" : "", open_error->message);
			g_assert_true (
				g_error_matches (open_error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE) ||
				g_error_matches (open_error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE));
		}
		contents[offset] = saved;
		if (both)
			contents[offset + 16 * 1024] ^= (gchar) (1 << (round % 8));
	}
	g_test_message ("%u of 48 mutated bundles still opened", opened);
	g_unlink (path);
}

static void
test_unfinished_reencryption (gconstpointer data)
{
	const MuLuksFixtures *fx = data;

	assert_open_fails (fx->unfinished, MU_ERROR_CORRUPT_BUNDLE);
}

/* libcryptsetup's errors arrive in GLib as messages; its debug output only
 * when GLib shows debug messages. */
static void
test_log_routing (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autofree gchar *expected = g_strdup_printf ("%d libcryptsetup: Device %s is too small.",
						      G_LOG_LEVEL_MESSAGE, fx->cut_in_header);
	gboolean found = FALSE;
	gboolean debug_lines = FALSE;
	gchar debug_prefix[16];

	g_ptr_array_set_size (luks_log, 0);
	assert_open_fails (fx->cut_in_header, MU_ERROR_CORRUPT_BUNDLE);
	g_snprintf (debug_prefix, sizeof debug_prefix, "%d ", G_LOG_LEVEL_DEBUG);
	for (guint i = 0; i < luks_log->len; i++) {
		const gchar *line = g_ptr_array_index (luks_log, i);

		found = found || g_str_has_prefix (line, expected);
		debug_lines = debug_lines || g_str_has_prefix (line, debug_prefix);
	}
	g_assert_true (found);
	g_assert_cmpint (debug_lines, ==,
			 !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN));
}

int
main (int argc, char **argv)
{
	g_autoptr (MuLuksFixtures) fx = NULL;
	int ret;

	g_test_init (&argc, &argv, NULL);
	luks_log = g_ptr_array_new_with_free_func (g_free);
	g_log_set_writer_func (record_luks_log, NULL, NULL);
	fx = mu_luks_fixtures_new ();

	g_test_add_data_func ("/bundle/inspect", fx, test_inspect);
	g_test_add_data_func ("/bundle/inspect-no-tokens", fx, test_inspect_no_tokens);
	g_test_add_data_func ("/bundle/bad-tokens-ignored", fx, test_bad_tokens_ignored);
	g_test_add_data_func ("/bundle/unbound-slot-never-tried", fx,
			      test_unbound_slot_never_tried);
	g_test_add_data_func ("/bundle/each-key-opens-its-slot", fx, test_each_key_opens_its_slot);
	g_test_add_data_func ("/bundle/hinted-first", fx, test_hinted_first);
	g_test_add_data_func ("/bundle/no-tokens-tries-all", fx, test_no_tokens_tries_all);
	g_test_add_data_func ("/bundle/wrong-hint-falls-back", fx, test_wrong_hint_falls_back);
	g_test_add_data_func ("/bundle/wrong-keys", fx, test_wrong_keys);
	g_test_add_data_func ("/bundle/no-keys", fx, test_no_keys);
	g_test_add_data_func ("/bundle/pbkdf-limits", fx, test_pbkdf_limits);
	g_test_add_data_func ("/bundle/cancelled", fx, test_cancelled);
	g_test_add_data_func ("/bundle/foreign-label", fx, test_foreign_label);
	g_test_add_data_func ("/bundle/no-label", fx, test_no_label);
	g_test_add_data_func ("/bundle/other-subsystem", fx, test_other_subsystem);
	g_test_add_data_func ("/bundle/unsupported-version", fx, test_unsupported_version);
	g_test_add_data_func ("/bundle/luks1", fx, test_luks1);
	g_test_add_data_func ("/bundle/not-luks", fx, test_not_luks);
	g_test_add_data_func ("/bundle/missing", fx, test_missing);
	g_test_add_data_func ("/bundle/truncated", fx, test_truncated);
	g_test_add_data_func ("/bundle/damaged-headers", fx, test_damaged_headers);
	g_test_add_data_func ("/bundle/damaged-primary", fx, test_damaged_primary);
	g_test_add_data_func ("/bundle/header-mutations", fx, test_header_mutations);
	g_test_add_data_func ("/bundle/unfinished-reencryption", fx, test_unfinished_reencryption);
	g_test_add_data_func ("/bundle/log-routing", fx, test_log_routing);

	ret = g_test_run ();
	g_ptr_array_unref (luks_log);
	return ret;
}
