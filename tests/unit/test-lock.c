/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-lock.h"

/* Runs mu_lock_acquire() in another process, as a second mediaupdctl would; returns the
 * error code it got, or -1 for none. */
static gint
acquire_in_child (const gchar *run_dir)
{
	int status = 0;
	pid_t pid = fork ();

	g_assert_cmpint (pid, >=, 0);
	if (pid == 0) {
		g_autoptr (GError) error = NULL;
		g_autoptr (MuLock) lock = mu_lock_acquire (run_dir, &error);

		_exit (lock != NULL ? 100 : error->code);
	}
	g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
	g_assert_true (WIFEXITED (status));
	return WEXITSTATUS (status) == 100 ? -1 : WEXITSTATUS (status);
}

static void
test_lock_busy (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *tmp = g_dir_make_tmp ("mu-test-lock-XXXXXX", &error);
	g_autofree gchar *run_dir = g_build_filename (tmp, "run", "mediaupd", NULL);
	g_autofree gchar *lock_path = g_build_filename (run_dir, "lock", NULL);
	g_autofree gchar *parent = g_path_get_dirname (run_dir);
	g_autoptr (MuLock) lock = NULL;
	GStatBuf st;

	g_assert_no_error (error);
	/* The run directory is made when missing, private. */
	lock = mu_lock_acquire (run_dir, &error);
	g_assert_no_error (error);
	g_assert_nonnull (lock);
	g_assert_cmpint (g_stat (run_dir, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 0777, ==, 0700);
	g_assert_cmpint (g_stat (lock_path, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 0777, ==, 0600);

	/* Held: another process gets Busy, and the holder keeps it. */
	g_assert_cmpint (acquire_in_child (run_dir), ==, MU_ERROR_BUSY);
	g_assert_cmpint (acquire_in_child (run_dir), ==, MU_ERROR_BUSY);

	/* Released: the next one gets it. */
	g_clear_pointer (&lock, mu_lock_release);
	g_assert_cmpint (acquire_in_child (run_dir), ==, -1);

	/* A run directory that cannot be made is an I/O error, not Busy. */
	{
		g_autofree gchar *file = g_build_filename (tmp, "file", NULL);
		g_autofree gchar *under_file = g_build_filename (file, "mediaupd", NULL);
		g_autoptr (GError) io_error = NULL;
		g_autoptr (MuLock) none = NULL;

		g_assert_true (g_file_set_contents (file, "x", 1, NULL));
		none = mu_lock_acquire (under_file, &io_error);
		g_assert_null (none);
		g_assert_error (io_error, MU_ERROR, MU_ERROR_IO);
		g_unlink (file);
	}
	g_unlink (lock_path);
	g_rmdir (run_dir);
	g_rmdir (parent);
	g_rmdir (tmp);
}

/* mu_lock_wait() waits for the holder (another process) instead of failing, and makes its
 * directory with the mode it is given. */
static void
test_lock_wait (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *tmp = g_dir_make_tmp ("mu-test-lock-XXXXXX", &error);
	g_autofree gchar *dir = g_build_filename (tmp, "state", NULL);
	g_autofree gchar *path = g_build_filename (dir, "state.lock", NULL);
	g_autoptr (MuLock) lock = NULL;
	int ready[2];
	int status = 0;
	gint64 start;
	pid_t pid;
	GStatBuf st;
	gchar c;

	g_assert_no_error (error);
	umask (022);
	g_assert_cmpint (pipe (ready), ==, 0);
	pid = fork ();
	g_assert_cmpint (pid, >=, 0);
	if (pid == 0) {
		g_autoptr (MuLock) held = mu_lock_wait (dir, "state.lock", 0755, NULL);

		close (ready[0]);
		if (held == NULL || write (ready[1], "x", 1) != 1)
			_exit (1);
		g_usleep (300 * G_TIME_SPAN_MILLISECOND);
		_exit (0);
	}
	close (ready[1]);
	g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
	close (ready[0]);
	start = g_get_monotonic_time ();
	lock = mu_lock_wait (dir, "state.lock", 0755, &error);
	g_assert_no_error (error);
	g_assert_nonnull (lock);
	/* It got the lock only once the child had let go of it (held for 300 ms). */
	g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
	g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
	g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * G_TIME_SPAN_MILLISECOND);
	g_assert_cmpint (g_stat (dir, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 0777, ==, 0755);
	g_assert_cmpint (g_stat (path, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 0777, ==, 0600);
	g_clear_pointer (&lock, mu_lock_release);
	g_unlink (path);
	g_rmdir (dir);
	g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/lock/busy", test_lock_busy);
	g_test_add_func ("/lock/wait", test_lock_wait);
	return g_test_run ();
}
