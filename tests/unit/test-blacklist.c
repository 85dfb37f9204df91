/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>

#include "mu-blacklist.h"
#include "mu-error.h"

#define C1 "1111111111111111111111111111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222222222222222222222222222"

typedef struct {
	gchar *dir;
	gchar *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	f->dir = g_dir_make_tmp ("mu-blacklist-XXXXXX", &error);
	g_assert_no_error (error);
	f->path = g_build_filename (f->dir, MU_BLACKLIST_FILE, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
	(void) g_unlink (f->path);
	g_assert_cmpint (g_rmdir (f->dir), ==, 0);
	g_free (f->path);
	g_free (f->dir);
}

static gchar *
contents (const gchar *path)
{
	g_autofree gchar *data = NULL;

	if (!g_file_get_contents (path, &data, NULL, NULL))
		return NULL;
	return g_steal_pointer (&data);
}

static void
test_blacklist_add_clear (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) entries = mu_blacklist_load (f->dir, &error);
	g_autoptr (GPtrArray) commits = NULL;
	const MuBlacklistEntry *e;

	/* No file: an empty list. */
	g_assert_no_error (error);
	g_assert_cmpuint (entries->len, ==, 0);
	g_clear_pointer (&entries, g_ptr_array_unref);

	g_assert_true (mu_blacklist_add (f->dir, C1, "4", &error));
	g_assert_no_error (error);
	g_assert_true (mu_blacklist_add (f->dir, C2, NULL, &error));
	g_assert_true (mu_blacklist_add (f->dir, C1, "4.1", &error));
	entries = mu_blacklist_load (f->dir, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (entries->len, ==, 2);
	e = mu_blacklist_find (entries, C1);
	g_assert_nonnull (e);
	g_assert_cmpstr (e->version, ==, "4.1");
	g_assert_cmpint (e->time_us, >, 0);
	g_assert_null (mu_blacklist_find (entries, C2)->version);
	commits = mu_blacklist_commits (entries);
	g_assert_cmpuint (commits->len, ==, 3);
	g_assert_true (g_strv_contains ((const gchar *const *) commits->pdata, C2));
	g_clear_pointer (&commits, g_ptr_array_unref);
	g_clear_pointer (&entries, g_ptr_array_unref);

	g_assert_true (mu_blacklist_clear (f->dir, C1, &error));
	g_assert_no_error (error);
	entries = mu_blacklist_load (f->dir, &error);
	g_assert_cmpuint (entries->len, ==, 1);
	g_assert_null (mu_blacklist_find (entries, C1));
	g_assert_nonnull (mu_blacklist_find (entries, C2));
	g_clear_pointer (&entries, g_ptr_array_unref);

	g_assert_true (mu_blacklist_clear (f->dir, NULL, &error));
	entries = mu_blacklist_load (f->dir, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (entries->len, ==, 0);
}

/* Bad input is refused and leaves the file as it was. */
static void
test_blacklist_refusals (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr (GPtrArray) entries = NULL;

	g_assert_true (mu_blacklist_add (f->dir, C1, "4", &error));
	before = contents (f->path);

	g_assert_false (mu_blacklist_add (f->dir, "not-a-commit", NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_clear_error (&error);
	g_assert_false (mu_blacklist_clear (f->dir, C2, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_assert_nonnull (strstr (error->message, C2));
	g_clear_error (&error);
	after = contents (f->path);
	g_assert_cmpstr (before, ==, after);
	g_clear_pointer (&after, g_free);

	/* A damaged file fails closed: loading, adding and clearing one commit refuse it
	 * and leave it alone; clearing everything replaces it. */
	g_assert_true (g_file_set_contents (f->path, "[Commit xyz]\nVersion=1\n", -1, NULL));
	entries = mu_blacklist_load (f->dir, &error);
	g_assert_null (entries);
	g_assert_error (error, MU_ERROR, MU_ERROR_IO);
	g_assert_nonnull (strstr (error->message, "clear-blacklist"));
	g_clear_error (&error);
	g_assert_false (mu_blacklist_add (f->dir, C2, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_IO);
	g_clear_error (&error);
	g_assert_false (mu_blacklist_clear (f->dir, C1, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_IO);
	g_clear_error (&error);
	after = contents (f->path);
	g_assert_cmpstr (after, ==, "[Commit xyz]\nVersion=1\n");
	g_assert_true (mu_blacklist_clear (f->dir, NULL, &error));
	g_assert_no_error (error);
	entries = mu_blacklist_load (f->dir, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (entries->len, ==, 0);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add ("/blacklist/add-clear", Fixture, NULL, fixture_set_up, test_blacklist_add_clear,
		    fixture_tear_down);
	g_test_add ("/blacklist/refusals", Fixture, NULL, fixture_set_up, test_blacklist_refusals,
		    fixture_tear_down);
	return g_test_run ();
}
