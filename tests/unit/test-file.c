/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-file.h"
#include "sign-test-util.h"

/*
 * Reading whole files that may be anything: a temp dir with one of each kind of thing a
 * name can stand for. Every refusal also checks that no descriptor was left open.
 */
typedef struct {
	gchar *dir;
	guint fds_before;
} Fixture;

#define BOUND 64

static guint
count_open_fds (void)
{
	g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
	guint n = 0;

	g_assert_nonnull (dir);
	while (g_dir_read_name (dir) != NULL)
		n++;
	return n;
}

static gchar *
path_in (Fixture *f, const gchar *name)
{
	return g_build_filename (f->dir, name, NULL);
}

static void
write_size (const gchar *path, gsize size)
{
	g_autofree gchar *data = g_malloc (size + 1);
	g_autoptr (GError) error = NULL;

	for (gsize i = 0; i < size; i++)
		data[i] = (gchar) ('a' + i % 26);
	g_assert_true (g_file_set_contents (path, data, (gssize) size, &error));
	g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
	g_autofree gchar *exact = NULL;
	g_autofree gchar *large = NULL;
	g_autofree gchar *empty = NULL;
	g_autofree gchar *subdir = NULL;
	g_autofree gchar *fifo = NULL;
	g_autofree gchar *link = NULL;
	g_autofree gchar *dangling = NULL;

	f->dir = sign_test_make_tmpdir ();
	exact = path_in (f, "exact");
	large = path_in (f, "large");
	empty = path_in (f, "empty");
	subdir = path_in (f, "dir");
	fifo = path_in (f, "fifo");
	link = path_in (f, "link");
	dangling = path_in (f, "dangling");
	write_size (exact, BOUND);
	write_size (large, BOUND + 1);
	write_size (empty, 0);
	g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);
	g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
	g_assert_cmpint (symlink ("exact", link), ==, 0);
	g_assert_cmpint (symlink ("nothing-here", dangling), ==, 0);
	f->fds_before = count_open_fds ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
	/* Whatever a case did, it left no descriptor behind. */
	g_assert_cmpuint (count_open_fds (), ==, f->fds_before);
	sign_test_rm_rf (f->dir);
	g_free (f->dir);
}

/* Checks that @bytes holds the @size bytes write_size() writes. */
static void
assert_contents (GBytes *bytes, gsize size)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data (bytes, &len);

	g_assert_cmpuint (len, ==, size);
	for (gsize i = 0; i < size; i++)
		g_assert_cmpint (data[i], ==, 'a' + i % 26);
}

/* Reads @path and checks that it is refused with @code and a message that names it and
 * holds @words; an alarm kills the test if the read blocks. */
static void
assert_refused (const gchar *path, gsize max_size, MuFileFlags flags, MuErrorCode code,
		const gchar *words)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) bytes = NULL;

	g_test_message ("%s, flags %u", path, flags);
	alarm (10);
	bytes = mu_file_read_regular (path, max_size, flags, MU_ERROR_INVALID_KEY, &error);
	alarm (0);
	g_assert_null (bytes);
	g_assert_error (error, MU_ERROR, (gint) code);
	g_assert_nonnull (strstr (error->message, path));
	g_assert_nonnull (strstr (error->message, words));
}

/* Every name refused, with its code and the words that say why; a FIFO must not block
 * (an alarm kills the test if it does). */
static void
test_file_refused (Fixture *f, gconstpointer data)
{
	static const struct {
		const gchar *name;
		MuFileFlags flags;
		MuErrorCode code;
		const gchar *words;
	} cases[] = {
		{ "missing", MU_FILE_NONE, MU_ERROR_NOT_FOUND, "cannot open" },
		{ "missing", MU_FILE_NOFOLLOW, MU_ERROR_NOT_FOUND, "cannot open" },
		{ "dangling", MU_FILE_NONE, MU_ERROR_NOT_FOUND, "cannot open" },
		{ "dangling", MU_FILE_NOFOLLOW, MU_ERROR_INVALID_KEY,
		  "is a symlink, not a regular file" },
		{ "link", MU_FILE_NOFOLLOW, MU_ERROR_INVALID_KEY,
		  "is a symlink, not a regular file" },
		{ "dir", MU_FILE_NONE, MU_ERROR_INVALID_KEY, "is a directory, not a regular file" },
		{ "fifo", MU_FILE_NONE, MU_ERROR_INVALID_KEY, "is a FIFO, not a regular file" },
		{ "fifo", MU_FILE_WIPE, MU_ERROR_INVALID_KEY, "is a FIFO, not a regular file" },
		{ "large", MU_FILE_NONE, MU_ERROR_INVALID_KEY,
		  "is larger than the 64 bytes accepted" },
		{ "large", MU_FILE_WIPE, MU_ERROR_INVALID_KEY,
		  "is larger than the 64 bytes accepted" },
		{ "exact/below", MU_FILE_NONE, MU_ERROR_IO, "cannot open" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *path = path_in (f, cases[i].name);

		assert_refused (path, BOUND, cases[i].flags, cases[i].code, cases[i].words);
	}
}

/* Device nodes are never read: /dev/zero would never end, /dev/null is empty. */
static void
test_file_device (Fixture *f, gconstpointer data)
{
	const gchar *const devices[] = { "/dev/zero", "/dev/null" };

	for (gsize i = 0; i < G_N_ELEMENTS (devices); i++)
		assert_refused (devices[i], BOUND, MU_FILE_NONE, MU_ERROR_INVALID_KEY,
				"is a character device, not a regular file");
}

/* What is read: all of a file up to the bound, an empty file as empty bytes (not an
 * error), a symlink followed unless told not to. */
static void
test_file_read (Fixture *f, gconstpointer data)
{
	static const struct {
		const gchar *name;
		MuFileFlags flags;
		gsize size;
	} cases[] = {
		{ "exact", MU_FILE_NONE, BOUND }, { "exact", MU_FILE_NOFOLLOW, BOUND },
		{ "exact", MU_FILE_WIPE, BOUND }, { "empty", MU_FILE_NONE, 0 },
		{ "empty", MU_FILE_WIPE, 0 },     { "link", MU_FILE_NONE, BOUND },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *path = path_in (f, cases[i].name);
		g_autoptr (GError) error = NULL;
		g_autoptr (GBytes) bytes = NULL;

		g_test_message ("%s, flags %u", cases[i].name, cases[i].flags);
		bytes = mu_file_read_regular (path, BOUND, cases[i].flags, MU_ERROR_INVALID_KEY,
					      &error);
		g_assert_no_error (error);
		g_assert_nonnull (bytes);
		assert_contents (bytes, cases[i].size);
	}
}

/* A file whose size the filesystem does not know (/proc says 0): the reads decide, both
 * when it fits and when it is over the bound. */
static void
test_file_size_unknown (Fixture *f, gconstpointer data)
{
	const MuFileFlags flags[] = { MU_FILE_NONE, MU_FILE_WIPE };
	g_autofree gchar *want = NULL;
	gsize want_len = 0;
	struct stat st;

	g_assert_cmpint (g_stat ("/proc/self/cmdline", &st), ==, 0);
	g_assert_cmpint (st.st_size, ==, 0);
	g_assert_true (g_file_get_contents ("/proc/self/cmdline", &want, &want_len, NULL));
	g_assert_cmpuint (want_len, >, 8);
	for (gsize i = 0; i < G_N_ELEMENTS (flags); i++) {
		g_autoptr (GError) error = NULL;
		g_autoptr (GBytes) bytes = NULL;
		gsize len = 0;
		const guint8 *data_read;

		bytes = mu_file_read_regular ("/proc/self/cmdline", 1024 * 1024, flags[i],
					      MU_ERROR_INVALID_KEY, &error);
		g_assert_no_error (error);
		data_read = g_bytes_get_data (bytes, &len);
		g_assert_cmpmem (data_read, len, want, want_len);

		assert_refused ("/proc/self/cmdline", want_len - 1, flags[i], MU_ERROR_INVALID_KEY,
				"is larger than");
	}
}

/* The open and read halves on their own: the stat of what was opened, reads from where
 * the descriptor stands, and a descriptor that is not a regular file refused. */
static void
test_file_fd (Fixture *f, gconstpointer data)
{
	g_autofree gchar *exact = path_in (f, "exact");
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) pipe_error = NULL;
	g_autoptr (GBytes) rest = NULL;
	g_autoptr (GBytes) from_pipe = NULL;
	guint8 buf[BOUND * 2];
	struct stat st;
	gsize len = 0;
	int pipe_fds[2];
	int fd;

	fd = mu_file_open_regular (exact, MU_FILE_NOFOLLOW, MU_ERROR_NOT_A_BUNDLE, &st, &error);
	g_assert_no_error (error);
	g_assert_cmpint (fd, >=, 0);
	g_assert_cmpint (st.st_size, ==, BOUND);
	/* Into a buffer larger than the file: stops at its end. */
	g_assert_true (mu_file_read_into (fd, exact, buf, 10, &len, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (len, ==, 10);
	g_assert_cmpint (buf[9], ==, 'j');
	rest = mu_file_read_fd (fd, exact, BOUND, MU_FILE_NONE, MU_ERROR_NOT_A_BUNDLE, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (g_bytes_get_size (rest), ==, BOUND - 10);
	g_assert_cmpint (((const guint8 *) g_bytes_get_data (rest, NULL))[0], ==, 'k');
	g_assert_true (mu_file_read_into (fd, exact, buf, sizeof buf, &len, &error));
	g_assert_cmpuint (len, ==, 0);
	close (fd);

	/* A pipe whose writer never writes: refused, not waited on. */
	g_assert_cmpint (pipe (pipe_fds), ==, 0);
	alarm (10);
	from_pipe = mu_file_read_fd (pipe_fds[0], "the pipe", BOUND, MU_FILE_NONE,
				     MU_ERROR_NOT_A_BUNDLE, &pipe_error);
	alarm (0);
	close (pipe_fds[0]);
	close (pipe_fds[1]);
	g_assert_null (from_pipe);
	g_assert_error (pipe_error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE);
	g_assert_nonnull (strstr (pipe_error->message, "'the pipe' is a FIFO"));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add ("/file/refused", Fixture, NULL, fixture_setup, test_file_refused,
		    fixture_teardown);
	g_test_add ("/file/device", Fixture, NULL, fixture_setup, test_file_device,
		    fixture_teardown);
	g_test_add ("/file/read", Fixture, NULL, fixture_setup, test_file_read, fixture_teardown);
	g_test_add ("/file/size-unknown", Fixture, NULL, fixture_setup, test_file_size_unknown,
		    fixture_teardown);
	g_test_add ("/file/fd", Fixture, NULL, fixture_setup, test_file_fd, fixture_teardown);
	return g_test_run ();
}
