/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-candidates.h"
#include "mu-error.h"
#include "sign-test-util.h"

/*
 * The discover step: a temporary directory stands for a mounted medium, holding whatever a
 * hostile stick may hold under the configured names.
 */
typedef struct {
	gchar *dir;
	MuConfig *config;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
	f->dir = sign_test_make_tmpdir ();
	f->config = mu_config_new_defaults ();
	g_strfreev (f->config->bundle_names);
	f->config->bundle_names = g_strsplit ("first.bundle;second.bundle;third.bundle", ";", -1);
	f->config->bundle_max_size = 1024;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
	sign_test_rm_rf (f->dir);
	g_free (f->dir);
	mu_config_free (f->config);
}

static gchar *
medium_path (Fixture *f, const gchar *name)
{
	return g_build_filename (f->dir, name, NULL);
}

static void
put_file (Fixture *f, const gchar *name, gsize size)
{
	g_autofree gchar *path = medium_path (f, name);
	g_autofree gchar *content = g_strnfill (size, 'x');

	sign_test_write (path, content);
}

static GPtrArray *
find_ok (Fixture *f, GPtrArray **ret_rejected)
{
	g_autoptr (GError) error = NULL;
	GPtrArray *found = mu_candidates_find (f->config, f->dir, ret_rejected, &error);

	g_assert_no_error (error);
	g_assert_nonnull (found);
	return found;
}

static void
assert_candidate (GPtrArray *found, guint index, Fixture *f, const gchar *name, guint64 size)
{
	MuCandidate *c;
	g_autofree gchar *path = medium_path (f, name);

	g_assert_cmpuint (found->len, >, index);
	c = g_ptr_array_index (found, index);
	g_assert_cmpstr (c->name, ==, name);
	g_assert_cmpstr (c->path, ==, path);
	g_assert_cmpuint (c->size, ==, size);
}

/* The one rejected entry is @name, refused with @code and a message mentioning @what. */
static void
assert_one_rejected (GPtrArray *rejected, const gchar *name, gint code, const gchar *what)
{
	MuCandidateRejected *r;

	g_assert_nonnull (rejected);
	g_assert_cmpuint (rejected->len, ==, 1);
	r = g_ptr_array_index (rejected, 0);
	g_assert_cmpstr (r->candidate->name, ==, name);
	g_assert_error (r->error, MU_ERROR, code);
	if (strstr (r->error->message, what) == NULL)
		g_error ("message '%s' does not mention '%s'", r->error->message, what);
}

static void
test_order_of_names (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;

	/* Made in the reverse order of Names=; the result follows Names=. */
	put_file (f, "third.bundle", 30);
	put_file (f, "first.bundle", 10);
	put_file (f, "second.bundle", 20);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 3);
	assert_candidate (found, 0, f, "first.bundle", 10);
	assert_candidate (found, 1, f, "second.bundle", 20);
	assert_candidate (found, 2, f, "third.bundle", 30);
	g_assert_cmpuint (rejected->len, ==, 0);

	/* Names= in another order gives that order. */
	g_strfreev (f->config->bundle_names);
	f->config->bundle_names = g_strsplit ("third.bundle;first.bundle", ";", -1);
	g_clear_pointer (&found, g_ptr_array_unref);
	g_clear_pointer (&rejected, g_ptr_array_unref);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 2);
	assert_candidate (found, 0, f, "third.bundle", 30);
	assert_candidate (found, 1, f, "first.bundle", 10);
}

static void
test_other_names_ignored (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	g_autofree gchar *sub = medium_path (f, "sub");
	g_autofree gchar *nested = g_build_filename (sub, "first.bundle", NULL);

	/* Near misses of a name, a pattern that would match it, the name in a subdirectory. */
	put_file (f, "first.bundle.part", 10);
	put_file (f, "xfirst.bundle", 10);
	put_file (f, "first.bundl", 10);
	put_file (f, "*.bundle", 10);
	g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
	sign_test_write (nested, "x");
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 0);
	g_assert_cmpuint (rejected->len, ==, 0);

	/* A name holding glob characters is matched literally, never as a pattern. */
	g_strfreev (f->config->bundle_names);
	f->config->bundle_names = g_strsplit ("*.bundle", ";", -1);
	g_clear_pointer (&found, g_ptr_array_unref);
	g_clear_pointer (&rejected, g_ptr_array_unref);
	put_file (f, "second.bundle", 10);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 1);
	assert_candidate (found, 0, f, "*.bundle", 10);
}

static void
test_symlink (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	g_autofree gchar *link = medium_path (f, "first.bundle");
	g_autofree gchar *dangling = medium_path (f, "second.bundle");

	/* To a good regular file beside it, and to nowhere. */
	put_file (f, "real", 10);
	g_assert_cmpint (symlink ("real", link), ==, 0);
	g_assert_cmpint (symlink ("/nonexistent", dangling), ==, 0);
	g_strfreev (f->config->bundle_names);
	f->config->bundle_names = g_strsplit ("first.bundle", ";", -1);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 0);
	assert_one_rejected (rejected, "first.bundle", MU_ERROR_NOT_A_BUNDLE, "a symlink");

	g_strfreev (f->config->bundle_names);
	f->config->bundle_names = g_strsplit ("second.bundle", ";", -1);
	g_clear_pointer (&found, g_ptr_array_unref);
	g_clear_pointer (&rejected, g_ptr_array_unref);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 0);
	assert_one_rejected (rejected, "second.bundle", MU_ERROR_NOT_A_BUNDLE, "a symlink");
}

static void
test_fifo (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	g_autofree gchar *fifo = medium_path (f, "second.bundle");

	/* Nobody writes to it: an open for reading without O_NONBLOCK would hang here. */
	g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
	put_file (f, "first.bundle", 10);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 1);
	assert_candidate (found, 0, f, "first.bundle", 10);
	assert_one_rejected (rejected, "second.bundle", MU_ERROR_NOT_A_BUNDLE, "a FIFO");
}

static void
test_directory (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	g_autofree gchar *dir = medium_path (f, "third.bundle");

	g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 0);
	assert_one_rejected (rejected, "third.bundle", MU_ERROR_NOT_A_BUNDLE, "a directory");
}

static void
test_size_bound (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;

	/* MaxSize= itself is accepted, one byte more is not. */
	put_file (f, "first.bundle", 1024);
	put_file (f, "second.bundle", 1025);
	found = find_ok (f, &rejected);
	g_assert_cmpuint (found->len, ==, 1);
	assert_candidate (found, 0, f, "first.bundle", 1024);
	assert_one_rejected (rejected, "second.bundle", MU_ERROR_INVALID_ARGUMENT, "MaxSize");
}

static void
test_unsafe_names (Fixture *f, gconstpointer data)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	g_autofree gchar *sub = medium_path (f, "sub");
	g_autofree gchar *nested = g_build_filename (sub, "b", NULL);
	MuCandidateRejected *r;

	g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
	sign_test_write (nested, "x");
	g_strfreev (f->config->bundle_names);
	f->config->bundle_names = g_strsplit ("sub/b;..;first.bundle;first.bundle", ";", -1);
	put_file (f, "first.bundle", 5);
	found = find_ok (f, &rejected);
	/* The duplicate name is one candidate. */
	g_assert_cmpuint (found->len, ==, 1);
	assert_candidate (found, 0, f, "first.bundle", 5);
	g_assert_cmpuint (rejected->len, ==, 2);
	r = g_ptr_array_index (rejected, 0);
	g_assert_cmpstr (r->candidate->name, ==, "sub/b");
	g_assert_error (r->error, MU_ERROR, MU_ERROR_CONFIG);
	r = g_ptr_array_index (rejected, 1);
	g_assert_cmpstr (r->candidate->name, ==, "..");
	g_assert_error (r->error, MU_ERROR, MU_ERROR_CONFIG);
}

static void
test_medium_gone (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	g_autofree gchar *gone = medium_path (f, "not-mounted");
	g_autoptr (GPtrArray) found = mu_candidates_find (f->config, gone, &rejected, &error);

	g_assert_null (found);
	g_assert_null (rejected);
	g_assert_error (error, MU_ERROR, MU_ERROR_MEDIA_REMOVED);
	g_assert_true (g_str_has_prefix (error->message, "discover: "));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD ("/candidates/order-of-names", test_order_of_names);
	ADD ("/candidates/other-names-ignored", test_other_names_ignored);
	ADD ("/candidates/symlink", test_symlink);
	ADD ("/candidates/fifo", test_fifo);
	ADD ("/candidates/directory", test_directory);
	ADD ("/candidates/size-bound", test_size_bound);
	ADD ("/candidates/unsafe-names", test_unsafe_names);
	ADD ("/candidates/medium-gone", test_medium_gone);
#undef ADD
	return g_test_run ();
}
