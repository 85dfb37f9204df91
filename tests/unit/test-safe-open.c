/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-safe-open.h"
#include "mu-signed-delta.h"
#include "sign-test-util.h"

/*
 * Opening files inside a bundle's inner image: a directory standing for the inner mount,
 * holding "delta/" with whatever a hostile bundle may put there, next to an "outside"
 * directory that nothing may reach.
 */
typedef struct {
	gchar *dir;
	gchar *root;  /* the inner mount stand-in */
	gchar *delta; /* root/delta */
	gchar *outside;
	int root_fd;
	int delta_fd;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *secret = NULL;

	f->dir = sign_test_make_tmpdir ();
	f->root = g_build_filename (f->dir, "root", NULL);
	f->delta = g_build_filename (f->root, "delta", NULL);
	f->outside = g_build_filename (f->dir, "outside", NULL);
	g_assert_cmpint (g_mkdir_with_parents (f->delta, 0755), ==, 0);
	g_assert_cmpint (g_mkdir (f->outside, 0755), ==, 0);
	secret = g_build_filename (f->outside, "superblock", NULL);
	sign_test_write (secret, "outside the bundle\n");
	f->root_fd = mu_safe_open_root (f->root, &error);
	g_assert_no_error (error);
	f->delta_fd = -1;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
	if (f->delta_fd >= 0)
		close (f->delta_fd);
	close (f->root_fd);
	sign_test_rm_rf (f->dir);
	g_free (f->dir);
	g_free (f->root);
	g_free (f->delta);
	g_free (f->outside);
}

static void
open_delta (Fixture *f)
{
	g_autoptr (GError) error = NULL;

	f->delta_fd = mu_safe_open_dir (f->root_fd, "delta", &error);
	g_assert_no_error (error);
	g_assert_cmpint (f->delta_fd, >=, 0);
}

static gchar *
delta_path (Fixture *f, const gchar *name)
{
	return g_build_filename (f->delta, name, NULL);
}

static guint64
bytes_read_so_far (void)
{
	g_autofree gchar *text = NULL;
	const gchar *p;

	g_assert_true (g_file_get_contents ("/proc/self/io", &text, NULL, NULL));
	p = strstr (text, "rchar: ");
	g_assert_nonnull (p);
	return g_ascii_strtoull (p + strlen ("rchar: "), NULL, 10);
}

static void
write_size (const gchar *path, gsize size)
{
	g_autofree gchar *buf = g_malloc0 (MAX (size, 1));
	g_autoptr (GError) error = NULL;

	g_file_set_contents (path, buf, (gssize) size, &error);
	g_assert_no_error (error);
}

static void
test_regular_file (Fixture *f, gconstpointer data)
{
	g_autofree gchar *path = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) bytes = NULL;
	struct stat st;
	int fd;

	open_delta (f);
	path = delta_path (f, "superblock");
	sign_test_write (path, "signed superblock");
	fd = mu_safe_open_file (f->delta_fd, "superblock", &st, &error);
	g_assert_no_error (error);
	g_assert_cmpint (fd, >=, 0);
	g_assert_true (S_ISREG (st.st_mode));
	g_assert_cmpint (st.st_size, ==, 17);
	close (fd);
	bytes = mu_safe_read_file (f->delta_fd, "superblock", 17, &error);
	g_assert_no_error (error);
	g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
			 "signed superblock", 17);
}

/* A file longer than the bound is refused after reading at most bound + 1 bytes, quickly,
 * however large it is; one of exactly the bound is read whole. */
static void
test_read_bound (Fixture *f, gconstpointer data)
{
	const gsize bound = MU_SIGNED_DELTA_MAX_SIZE;
	g_autofree gchar *big = NULL;
	g_autofree gchar *exact = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) bytes = NULL;
	guint64 before, read_bytes;
	gint64 start;
	gdouble seconds;

	open_delta (f);
	big = delta_path (f, "big");
	exact = delta_path (f, "exact");
	write_size (big, 40 * 1024 * 1024);
	write_size (exact, bound);

	before = bytes_read_so_far ();
	start = g_get_monotonic_time ();
	bytes = mu_safe_read_file (f->delta_fd, "big", bound, &error);
	seconds = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
	read_bytes = bytes_read_so_far () - before;
	g_assert_null (bytes);
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_test_message ("40 MiB file refused after reading %" G_GUINT64_FORMAT
			" bytes in %.3f s: %s",
			read_bytes, seconds, error->message);
	/* The /proc/self/io reads themselves count too: a page of slack. */
	g_assert_cmpuint (read_bytes, <=, bound + 1 + 4096);
	g_assert_cmpfloat (seconds, <, 2.0);
	g_clear_error (&error);

	bytes = mu_safe_read_file (f->delta_fd, "exact", bound, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (g_bytes_get_size (bytes), ==, bound);
}

typedef enum {
	BAD_SYMLINK_ROOT,     /* -> / */
	BAD_SYMLINK_DEV_ZERO, /* -> /dev/zero */
	BAD_SYMLINK_OUTSIDE,  /* -> a directory outside the bundle */
	BAD_SYMLINK_INSIDE,   /* -> another file of the bundle */
	BAD_FIFO,
	BAD_DEVICE,
	BAD_MISSING,
	BAD_DIRECTORY,
} BadKind;

/* Puts @kind at @path; FALSE if this host cannot make it (says why). */
static gboolean
make_bad (Fixture *f, BadKind kind, const gchar *path)
{
	g_autofree gchar *inside = delta_path (f, "other");

	switch (kind) {
	case BAD_SYMLINK_ROOT:
		g_assert_cmpint (symlink ("/", path), ==, 0);
		break;
	case BAD_SYMLINK_DEV_ZERO:
		g_assert_cmpint (symlink ("/dev/zero", path), ==, 0);
		break;
	case BAD_SYMLINK_OUTSIDE:
		g_assert_cmpint (symlink (f->outside, path), ==, 0);
		break;
	case BAD_SYMLINK_INSIDE:
		sign_test_write (inside, "a file of the bundle");
		g_assert_cmpint (symlink ("other", path), ==, 0);
		break;
	case BAD_FIFO:
		g_assert_cmpint (mkfifo (path, 0644), ==, 0);
		break;
	case BAD_DEVICE:
		if (getuid () != 0) {
			g_test_skip ("making a device node needs root (CI runs as root)");
			return FALSE;
		}
		/* The numbers of /dev/null: harmless should it ever be opened. */
		g_assert_cmpint (mknod (path, S_IFCHR | 0644, makedev (1, 3)), ==, 0);
		break;
	case BAD_MISSING:
		break;
	case BAD_DIRECTORY:
		g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
		break;
	}
	return TRUE;
}

/* "delta/superblock" is something else than a regular file: refused as a corrupt delta,
 * at once (a FIFO without a writer must not block), nothing read from outside. */
static void
test_bad_file (Fixture *f, gconstpointer data)
{
	BadKind kind = GPOINTER_TO_INT (data);
	g_autofree gchar *path = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) read_error = NULL;
	g_autoptr (GBytes) bytes = NULL;
	gint64 start;
	int fd;

	open_delta (f);
	path = delta_path (f, "superblock");
	if (!make_bad (f, kind, path))
		return;
	start = g_get_monotonic_time ();
	fd = mu_safe_open_file (f->delta_fd, "superblock", NULL, &error);
	g_assert_cmpint (fd, ==, -1);
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_test_message ("refused: %s", error->message);
	bytes = mu_safe_read_file (f->delta_fd, "superblock", 1024, &read_error);
	g_assert_null (bytes);
	g_assert_error (read_error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

/* "delta" itself is something else than a directory of the bundle. */
static void
test_bad_dir (Fixture *f, gconstpointer data)
{
	BadKind kind = GPOINTER_TO_INT (data);
	g_autoptr (GError) error = NULL;
	int fd;

	g_assert_cmpint (g_rmdir (f->delta), ==, 0);
	if (kind == BAD_DIRECTORY) {
		/* Here: a regular file where the directory should be. */
		sign_test_write (f->delta, "not a directory");
	} else if (kind == BAD_SYMLINK_INSIDE) {
		g_autofree gchar *other = g_build_filename (f->root, "other", NULL);

		g_assert_cmpint (g_mkdir (other, 0755), ==, 0);
		g_assert_cmpint (symlink ("other", f->delta), ==, 0);
	} else if (!make_bad (f, kind, f->delta)) {
		return;
	}
	fd = mu_safe_open_dir (f->root_fd, "delta", &error);
	g_assert_cmpint (fd, ==, -1);
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_test_message ("refused: %s", error->message);
}

int
main (int argc, char **argv)
{
	static const struct {
		const gchar *name;
		BadKind kind;
	} bad[] = {
		{ "symlink-root", BAD_SYMLINK_ROOT },
		{ "symlink-dev-zero", BAD_SYMLINK_DEV_ZERO },
		{ "symlink-outside", BAD_SYMLINK_OUTSIDE },
		{ "symlink-inside", BAD_SYMLINK_INSIDE },
		{ "fifo", BAD_FIFO },
		{ "device", BAD_DEVICE },
		{ "missing", BAD_MISSING },
		{ "directory", BAD_DIRECTORY },
	};

	g_test_init (&argc, &argv, NULL);
	g_test_add ("/safe-open/regular-file", Fixture, NULL, fixture_setup, test_regular_file,
		    fixture_teardown);
	g_test_add ("/safe-open/read-bound", Fixture, NULL, fixture_setup, test_read_bound,
		    fixture_teardown);
	for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
		g_autofree gchar *file_path = g_strconcat ("/safe-open/file/", bad[i].name, NULL);
		g_autofree gchar *dir_path = g_strconcat ("/safe-open/dir/", bad[i].name, NULL);

		g_test_add (file_path, Fixture, GINT_TO_POINTER (bad[i].kind), fixture_setup,
			    test_bad_file, fixture_teardown);
		g_test_add (dir_path, Fixture, GINT_TO_POINTER (bad[i].kind), fixture_setup,
			    test_bad_dir, fixture_teardown);
	}
	return g_test_run ();
}
