/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-luks-util.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "mu-bundle-format.h"

/* Where the fixture's data segment starts (make-luks-fixture.sh: --reduce-device-size 4M). */
#define FIXTURE_DATA_OFFSET (2 * 1024 * 1024)
/* LUKS2 binary header size; the JSON area follows it in each 16 KiB header copy. */
#define LUKS2_BIN_HEADER 4096
#define LUKS2_HEADER_COPY 16384

gchar *
mu_test_write_random_key (const gchar *dir, const gchar *id, gsize len, MuKey **out_key)
{
	g_autofree gchar *name = g_strconcat (id, ".key", NULL);
	g_autofree gchar *path = g_build_filename (dir, name, NULL);
	g_autofree guint8 *data = g_malloc (len);
	g_autoptr (GError) error = NULL;

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8) g_random_int_range (0, 256);
	g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
	g_file_set_contents_full (path, (const gchar *) data, (gssize) len,
				  G_FILE_SET_CONTENTS_NONE, 0600, &error);
	g_assert_no_error (error);
	if (out_key != NULL) {
		*out_key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);
		g_assert_no_error (error);
	}
	return g_steal_pointer (&path);
}

/* Runs make-luks-fixture.sh OUTPUT --key ID=FILE... EXTRA...; returns OUTPUT. */
static gchar *
make_fixture (MuLuksFixtures *fx, const gchar *name, gboolean all_keys, ...)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *output = g_build_filename (fx->tmpdir, name, NULL);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	const gchar *root = g_getenv ("MEDIAUPD_SOURCE_ROOT");
	const gchar *arg;
	va_list ap;

	g_assert_nonnull (root);
	g_ptr_array_add (argv,
			 g_build_filename (root, "tests", "unit", "make-luks-fixture.sh", NULL));
	g_ptr_array_add (argv, g_strdup (output));
	for (guint i = 0; i < (all_keys ? 3 : 1); i++) {
		g_ptr_array_add (argv, g_strdup ("--key"));
		g_ptr_array_add (argv,
				 g_strdup_printf ("%s=%s", fx->keys[i]->id, fx->key_paths[i]));
	}
	va_start (ap, all_keys);
	while ((arg = va_arg (ap, const gchar *)) != NULL)
		g_ptr_array_add (argv, g_strdup (arg));
	va_end (ap);
	g_ptr_array_add (argv, NULL);

	proc = g_subprocess_newv ((const gchar *const *) argv->pdata,
				  G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
	g_assert_no_error (error);
	g_subprocess_wait_check (proc, NULL, &error);
	g_assert_no_error (error);
	return g_steal_pointer (&output);
}

/* Writes the first @len bytes of @src to @name (@len <= 0: all but the last
 * -@len bytes), with the bytes at @flips inverted. */
static gchar *
derive_file (MuLuksFixtures *fx, const gchar *src, const gchar *name, gssize len,
	     const gsize *flips, guint n_flips)
{
	g_autofree gchar *path = g_build_filename (fx->tmpdir, name, NULL);
	g_autofree gchar *data = NULL;
	g_autoptr (GError) error = NULL;
	gsize size = 0;

	g_file_get_contents (src, &data, &size, &error);
	g_assert_no_error (error);
	if (len <= 0)
		len = (gssize) size + len;
	g_assert_cmpint (len, >=, 0);
	g_assert_cmpint (len, <=, (gssize) size);
	for (guint i = 0; i < n_flips; i++) {
		g_assert_cmpuint (flips[i], <, (gsize) len);
		data[flips[i]] = (gchar) ~data[flips[i]];
	}
	g_file_set_contents (path, data, len, &error);
	g_assert_no_error (error);
	return g_steal_pointer (&path);
}

static void
make_plain_files (MuLuksFixtures *fx)
{
	g_autofree guint8 *noise = g_malloc (64 * 1024);
	g_autoptr (GError) error = NULL;

	for (gsize i = 0; i < 64 * 1024; i++)
		noise[i] = (guint8) g_random_int_range (0, 256);
	fx->random = g_build_filename (fx->tmpdir, "random.bin", NULL);
	g_file_set_contents (fx->random, (const gchar *) noise, 64 * 1024, &error);
	g_assert_no_error (error);
	fx->empty = g_build_filename (fx->tmpdir, "empty.bin", NULL);
	g_file_set_contents (fx->empty, "", 0, &error);
	g_assert_no_error (error);
	fx->directory = g_build_filename (fx->tmpdir, "a-directory", NULL);
	g_assert_cmpint (g_mkdir (fx->directory, 0700), ==, 0);
}

static void
make_keys (MuLuksFixtures *fx)
{
	static const gchar *const ids[] = { "main-2026", "fallback-1", "old.v2" };
	g_autofree gchar *keys_dir = g_build_filename (fx->tmpdir, "keys", NULL);
	g_autofree gchar *wrong_dir = g_build_filename (fx->tmpdir, "wrong", NULL);

	for (guint i = 0; i < 3; i++)
		fx->key_paths[i] = mu_test_write_random_key (keys_dir, ids[i], 32, &fx->keys[i]);
	fx->spare_a_path = mu_test_write_random_key (wrong_dir, "spare-a", 32, &fx->spare_a);
	fx->spare_b_path = mu_test_write_random_key (wrong_dir, "spare-b", 64, &fx->spare_b);
	fx->wrong_main_path = mu_test_write_random_key (wrong_dir, "main-2026", 32,
							&fx->wrong_main);
	fx->short_key_path = mu_test_write_random_key (wrong_dir, "short", 31, NULL);
}

MuLuksFixtures *
mu_luks_fixtures_new (void)
{
	g_autoptr (GError) error = NULL;
	MuLuksFixtures *fx = g_new0 (MuLuksFixtures, 1);
	const gsize header_flip[] = { LUKS2_BIN_HEADER + 100 };
	const gsize both_flips[] = { LUKS2_BIN_HEADER + 100,
				     LUKS2_HEADER_COPY + LUKS2_BIN_HEADER + 100 };
	g_autofree gchar *arg = NULL;

	fx->tmpdir = g_dir_make_tmp ("mu-test-luks-XXXXXX", &error);
	g_assert_no_error (error);
	make_keys (fx);
	make_plain_files (fx);

	fx->three = make_fixture (fx, "three.bundle", TRUE, NULL);
	fx->no_tokens = make_fixture (fx, "no-tokens.bundle", TRUE, "--no-tokens", NULL);
	arg = g_strdup_printf ("spare-b=%s", fx->spare_b_path);
	fx->unbound = make_fixture (fx, "unbound.bundle", TRUE, "--unbound", arg, NULL);
	fx->bad_tokens = make_fixture (
		fx, "bad-tokens.bundle", TRUE, "--no-tokens", "--raw-token",
		"0={\"type\":\"mediaupd-keyid\",\"keyslots\":[\"1\"],\"key_id\":\"../x\"}",
		"--raw-token",
		"1={\"type\":\"mediaupd-keyid\",\"keyslots\":[\"0\",\"1\"],"
		"\"key_id\":\"fallback-1\"}",
		"--raw-token", "2={\"type\":\"someone-else\",\"keyslots\":[\"1\"]}", NULL);
	fx->foreign = make_fixture (fx, "foreign.luks", FALSE, "--label", "someone-else",
				    "--subsystem", "", NULL);
	fx->no_label = make_fixture (fx, "no-label.luks", FALSE, "--no-label", NULL);
	fx->other_subsystem = make_fixture (fx, "other-subsystem.luks", FALSE, "--subsystem",
					    "apertis-v2", NULL);
	fx->future = make_fixture (fx, "future.bundle", FALSE, "--subsystem",
				   MU_BUNDLE_LUKS_SUBSYSTEM_PREFIX "9", NULL);
	fx->luks1 = make_fixture (fx, "luks1.luks", FALSE, "--luks1", NULL);
	fx->unfinished = make_fixture (fx, "unfinished.bundle", FALSE, "--init-only", NULL);
	fx->unsigned_v2 = make_fixture (fx, "unsigned-v2.bundle", TRUE, "--subsystem",
					MU_BUNDLE_LUKS_SUBSYSTEM_V2, NULL);

	fx->cut_in_header = derive_file (fx, fx->three, "cut-in-header.bundle", 300000, NULL, 0);
	fx->cut_at_data = derive_file (fx, fx->three, "cut-at-data.bundle", FIXTURE_DATA_OFFSET,
				       NULL, 0);
	fx->cut_mid_sector = derive_file (fx, fx->three, "cut-mid-sector.bundle", -100, NULL, 0);
	fx->damaged_primary = derive_file (fx, fx->three, "damaged-primary.bundle", 0, header_flip,
					   G_N_ELEMENTS (header_flip));
	fx->damaged_both = derive_file (fx, fx->three, "damaged-both.bundle", 0, both_flips,
					G_N_ELEMENTS (both_flips));
	return fx;
}

void
mu_test_remove_tree (const gchar *path)
{
	g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
		g_autofree gchar *child = g_build_filename (path, name, NULL);

		if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
			mu_test_remove_tree (child);
		else
			g_unlink (child);
	}
	g_rmdir (path);
}

void
mu_luks_fixtures_free (MuLuksFixtures *fx)
{
	if (fx == NULL)
		return;
	if (fx->tmpdir != NULL && g_getenv ("MU_TEST_KEEP_FIXTURES") == NULL)
		mu_test_remove_tree (fx->tmpdir);
	for (guint i = 0; i < 3; i++) {
		mu_key_free (fx->keys[i]);
		g_free (fx->key_paths[i]);
	}
	mu_key_free (fx->spare_a);
	mu_key_free (fx->spare_b);
	mu_key_free (fx->wrong_main);
	g_free (fx->spare_a_path);
	g_free (fx->spare_b_path);
	g_free (fx->wrong_main_path);
	g_free (fx->short_key_path);
	g_free (fx->three);
	g_free (fx->no_tokens);
	g_free (fx->bad_tokens);
	g_free (fx->unbound);
	g_free (fx->foreign);
	g_free (fx->no_label);
	g_free (fx->other_subsystem);
	g_free (fx->future);
	g_free (fx->luks1);
	g_free (fx->random);
	g_free (fx->empty);
	g_free (fx->directory);
	g_free (fx->cut_in_header);
	g_free (fx->cut_at_data);
	g_free (fx->cut_mid_sector);
	g_free (fx->damaged_both);
	g_free (fx->damaged_primary);
	g_free (fx->unfinished);
	g_free (fx->unsigned_v2);
	g_free (fx->tmpdir);
	g_free (fx);
}
