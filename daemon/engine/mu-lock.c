/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "mu-error.h"
#include "mu-lock.h"

#define LOCK_NAME "lock"

struct _MuLock {
	int fd;
};

/* An exclusive flock on DIR/NAME, DIR made with @dir_mode when missing; with @wait FALSE,
 * MU_ERROR_BUSY when another process holds it. */
static MuLock *
lock_file (const gchar *dir, const gchar *name, int dir_mode, gboolean wait, GError **error)
{
	g_autofree gchar *path = g_build_filename (dir, name, NULL);
	MuLock *lock;
	int fd;

	if (g_mkdir_with_parents (dir, dir_mode) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot create %s: %s", dir,
			     g_strerror (saved));
		return NULL;
	}
	fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot open the lock file %s: %s", path,
			     g_strerror (saved));
		return NULL;
	}
	while (flock (fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		int saved = errno;

		if (saved == EINTR)
			continue;
		close (fd);
		if (saved == EWOULDBLOCK) {
			g_set_error (error, MU_ERROR, MU_ERROR_BUSY,
				     "another update is running (it holds %s); wait until it has "
				     "finished, then try again",
				     path);
			return NULL;
		}
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot lock %s: %s", path,
			     g_strerror (saved));
		return NULL;
	}
	lock = g_new0 (MuLock, 1);
	lock->fd = fd;
	return lock;
}

MuLock *
mu_lock_acquire (const gchar *run_dir, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	return lock_file (run_dir, LOCK_NAME, 0700, FALSE, error);
}

MuLock *
mu_lock_wait (const gchar *dir, const gchar *name, int dir_mode, GError **error)
{
	g_return_val_if_fail (name != NULL && strchr (name, '/') == NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	return lock_file (dir, name, dir_mode, TRUE, error);
}

void
mu_lock_release (MuLock *lock)
{
	if (lock == NULL)
		return;
	/* Closing the only descriptor of the open file drops the lock. */
	close (lock->fd);
	g_free (lock);
}
