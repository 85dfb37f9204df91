/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-key.h"

typedef struct {
	gchar *dir;
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	fx->dir = g_dir_make_tmp ("mu-test-key-XXXXXX", &error);
	g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
	g_autoptr (GDir) dir = g_dir_open (fx->dir, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
		g_autofree gchar *path = g_build_filename (fx->dir, name, NULL);

		if (g_rmdir (path) != 0)
			g_assert_cmpint (g_unlink (path), ==, 0);
	}
	g_assert_cmpint (g_rmdir (fx->dir), ==, 0);
	g_free (fx->dir);
}

/* A key file of @len bytes 0, 1, 2, ... with mode @mode; returns its path. */
static gchar *
write_key (Fixture *fx, const gchar *name, gsize len, mode_t mode)
{
	g_autofree gchar *path = g_build_filename (fx->dir, name, NULL);
	g_autofree guint8 *data = g_malloc (MAX (len, 1));
	g_autoptr (GError) error = NULL;

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8) i;
	g_file_set_contents_full (path, (const gchar *) data, (gssize) len,
				  G_FILE_SET_CONTENTS_NONE, (int) mode, &error);
	g_assert_no_error (error);
	/* g_file_set_contents_full() applies the umask; make the mode exact. */
	g_assert_cmpint (g_chmod (path, (int) mode), ==, 0);
	return g_steal_pointer (&path);
}

static void
test_key_id_valid (void)
{
	static const struct {
		const gchar *id;
		gboolean valid;
	} cases[] = {
		{ "main-2026", TRUE },   { "fallback_1", TRUE },   { "old.v2", TRUE },
		{ "A", TRUE },           { "a..b", TRUE },         { "x-", TRUE },
		{ "", FALSE },           { ".hidden", FALSE },     { ".", FALSE },
		{ "..", FALSE },         { "a/b", FALSE },         { "../etc", FALSE },
		{ "with space", FALSE }, { "tab\tid", FALSE },     { "quote'", FALSE },
		{ "semi;colon", FALSE }, { "caf\xc3\xa9", FALSE }, { "new\nline", FALSE },
	};
	g_autofree gchar *max = g_strnfill (MU_KEY_ID_MAX_LEN, 'k');
	g_autofree gchar *too_long = g_strnfill (MU_KEY_ID_MAX_LEN + 1, 'k');

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_test_message ("key id '%s'", cases[i].id);
		g_assert_cmpint (mu_key_id_is_valid (cases[i].id), ==, cases[i].valid);
	}
	g_assert_true (mu_key_id_is_valid (max));
	g_assert_false (mu_key_id_is_valid (too_long));
	g_assert_false (mu_key_id_is_valid (NULL));
}

static void
test_key_load (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, "main-2026.key", 32, 0600);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_REQUIRE_PRIVATE, &error);

	g_assert_no_error (error);
	g_assert_nonnull (key);
	g_assert_cmpstr (key->id, ==, "main-2026");
	g_assert_cmpuint (key->len, ==, 32);
	for (gsize i = 0; i < key->len; i++)
		g_assert_cmpuint (key->data[i], ==, i);
}

/* A name without ".key" is its own id (keys given on a command line). */
static void
test_key_load_plain_name (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, "K1", MU_LUKS_KEY_MAX_LEN, 0644);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);

	g_assert_no_error (error);
	g_assert_cmpstr (key->id, ==, "K1");
	g_assert_cmpuint (key->len, ==, MU_LUKS_KEY_MAX_LEN);
}

static void
test_key_short (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, "short.key", MU_LUKS_KEY_MIN_LEN - 1, 0600);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (key);
	g_assert_nonnull (strstr (error->message, "31 bytes"));
}

static void
test_key_empty (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, "empty.key", 0, 0600);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (key);
}

static void
test_key_long (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, "long.key", MU_LUKS_KEY_MAX_LEN + 1, 0600);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (key);
}

static void
test_key_missing (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = g_build_filename (fx->dir, "absent.key", NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);

	g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_assert_null (key);
}

static void
test_key_not_regular (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = g_build_filename (fx->dir, "dir.key", NULL);
	g_autofree gchar *fifo = g_build_filename (fx->dir, "fifo.key", NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) fifo_error = NULL;
	g_autoptr (MuKey) key = NULL;
	g_autoptr (MuKey) fifo_key = NULL;

	g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
	key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (key);

	/* A FIFO must be refused, not block the reader. */
	g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
	fifo_key = mu_key_load_file (fifo, MU_KEY_LOAD_NONE, &fifo_error);
	g_assert_error (fifo_error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (fifo_key);
}

static void
test_key_bad_name (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, ".hidden.key", 32, 0600);
	g_autofree gchar *spaced = write_key (fx, "two words.key", 32, 0600);
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) spaced_error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (path, MU_KEY_LOAD_NONE, &error);
	g_autoptr (MuKey) spaced_key = mu_key_load_file (spaced, MU_KEY_LOAD_NONE, &spaced_error);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (key);
	g_assert_error (spaced_error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (spaced_key);
}

static void
test_key_permissions (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *readable = write_key (fx, "readable.key", 32, 0644);
	g_autofree gchar *group = write_key (fx, "group.key", 32, 0620);
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) group_error = NULL;
	g_autoptr (GError) lax_error = NULL;
	g_autoptr (MuKey) key = mu_key_load_file (readable, MU_KEY_LOAD_REQUIRE_PRIVATE, &error);
	g_autoptr (MuKey) group_key = mu_key_load_file (group, MU_KEY_LOAD_REQUIRE_PRIVATE,
							&group_error);
	g_autoptr (MuKey) lax_key = mu_key_load_file (readable, MU_KEY_LOAD_NONE, &lax_error);

	g_assert_error (error, MU_ERROR, MU_ERROR_KEY_PERMISSIONS);
	g_assert_null (key);
	g_assert_nonnull (strstr (error->message, "chmod 0600"));
	g_assert_error (group_error, MU_ERROR, MU_ERROR_KEY_PERMISSIONS);
	g_assert_null (group_key);
	/* Without the flag (a key given to a tool) the mode is not checked. */
	g_assert_no_error (lax_error);
	g_assert_nonnull (lax_key);
}

static void
test_key_new (void)
{
	guint8 bytes[MU_LUKS_KEY_MIN_LEN] = { 1, 2, 3 };
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) short_error = NULL;
	g_autoptr (MuKey) bad_id = mu_key_new ("../x", bytes, sizeof bytes, &error);
	g_autoptr (MuKey) too_short = mu_key_new ("ok", bytes, sizeof bytes - 1, &short_error);
	g_autoptr (MuKey) good = mu_key_new ("ok", bytes, sizeof bytes, NULL);

	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (bad_id);
	g_assert_error (short_error, MU_ERROR, MU_ERROR_INVALID_KEY);
	g_assert_null (too_short);
	g_assert_nonnull (good);
	g_assert_true (good->data != bytes);
	g_assert_cmpmem (good->data, good->len, bytes, sizeof bytes);
}

/* The VmFlags of the mapping of /proc/self/smaps that holds @addr. */
static gchar *
vm_flags_of (const void *addr)
{
	g_autofree gchar *smaps = NULL;
	g_auto (GStrv) lines = NULL;
	gboolean inside = FALSE;

	g_assert_true (g_file_get_contents ("/proc/self/smaps", &smaps, NULL, NULL));
	lines = g_strsplit (smaps, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		guint64 start, end;

		if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x ", &start,
			    &end) == 2 &&
		    strchr (lines[i], '-') < strchr (lines[i], ' ')) {
			inside = (guintptr) addr >= start && (guintptr) addr < end;
			continue;
		}
		if (inside && g_str_has_prefix (lines[i], "VmFlags:"))
			return g_strdup (lines[i] + strlen ("VmFlags:"));
	}
	return NULL;
}

static gboolean
has_flag (const gchar *flags, const gchar *flag)
{
	g_auto (GStrv) words = g_strsplit_set (flags, " \t", -1);

	return g_strv_contains ((const gchar *const *) words, flag);
}

/* Key bytes are in a mapping that core dumps leave out ("dd"), whether the key was made
 * from bytes or read from a file; the heap is not. */
static void
test_key_not_dumped (Fixture *fx, gconstpointer data)
{
	g_autofree gchar *path = write_key (fx, "main-2026.key", 64, 0600);
	g_autoptr (MuKey) loaded = mu_key_load_file (path, MU_KEY_LOAD_REQUIRE_PRIVATE, NULL);
	guint8 bytes[MU_LUKS_KEY_MIN_LEN] = { 7 };
	g_autoptr (MuKey) made = mu_key_new ("made", bytes, sizeof bytes, NULL);
	g_autofree gchar *heap = g_malloc (64);
	g_autofree gchar *loaded_flags = NULL;
	g_autofree gchar *made_flags = NULL;
	g_autofree gchar *heap_flags = NULL;

	g_assert_nonnull (loaded);
	g_assert_nonnull (made);
	loaded_flags = vm_flags_of (loaded->data);
	made_flags = vm_flags_of (made->data);
	heap_flags = vm_flags_of (heap);
	g_assert_nonnull (loaded_flags);
	g_assert_nonnull (made_flags);
	g_assert_nonnull (heap_flags);
	g_test_message ("key: %s; heap: %s", loaded_flags, heap_flags);
	g_assert_true (has_flag (loaded_flags, "dd"));
	g_assert_true (has_flag (made_flags, "dd"));
	g_assert_false (has_flag (heap_flags, "dd"));
	g_assert_cmpuint (loaded->len, ==, 64);
	for (guint i = 0; i < loaded->len; i++)
		g_assert_cmpuint (loaded->data[i], ==, i);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/key/id-valid", test_key_id_valid);
	g_test_add_func ("/key/new", test_key_new);
#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD ("/key/load", test_key_load);
	ADD ("/key/load-plain-name", test_key_load_plain_name);
	ADD ("/key/short", test_key_short);
	ADD ("/key/empty", test_key_empty);
	ADD ("/key/long", test_key_long);
	ADD ("/key/missing", test_key_missing);
	ADD ("/key/not-regular", test_key_not_regular);
	ADD ("/key/bad-name", test_key_bad_name);
	ADD ("/key/permissions", test_key_permissions);
	ADD ("/key/not-dumped", test_key_not_dumped);
#undef ADD
	return g_test_run ();
}
