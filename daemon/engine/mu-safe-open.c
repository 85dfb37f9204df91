/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mu-error.h"
#include "mu-file.h"
#include "mu-safe-open.h"

/* Resolution never leaves the directory, follows no symlink (magic ones included) and
 * crosses no mount point. */
#define RESOLVE_FLAGS                                                                              \
	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

static int
open_beneath (int dir_fd, const gchar *name, guint64 flags)
{
	struct open_how how = { .flags = flags | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_FLAGS };
	long fd;

	do
		fd = syscall (SYS_openat2, dir_fd, name, &how, sizeof (how));
	while (fd < 0 && errno == EINTR);
	/* Before Linux 5.6: a single component opened with O_NOFOLLOW resolves no symlink
	 * either, which is all the callers ask for. */
	if (fd < 0 && errno == ENOSYS)
		fd = openat (dir_fd, name, (int) (flags | O_NOFOLLOW | O_CLOEXEC));
	return (int) fd;
}

static void
set_open_error (const gchar *name, int err, GError **error)
{
	switch (err) {
	case ELOOP:
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "'%s' in the bundle is a symlink; a bundle holds only regular files "
			     "and directories, make it again with the bundle maker",
			     name);
		break;
	case EXDEV:
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "'%s' in the bundle leads out of the bundle's filesystem; make the "
			     "bundle again with the bundle maker",
			     name);
		break;
	case ENOENT:
	case ENOTDIR:
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the bundle has no '%s'; it is damaged or not made by the bundle maker",
			     name);
		break;
	default:
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot open '%s' in the bundle: %s",
			     name, g_strerror (err));
		break;
	}
}

/* @name opened O_PATH (opening it so has no effect on the object), then checked to be of
 * the type @want before anything opens it for real. */
static gboolean
check_type (int dir_fd, const gchar *name, mode_t want, struct stat *ret_st, GError **error)
{
	int fd = open_beneath (dir_fd, name, O_PATH);
	struct stat st;

	if (fd < 0) {
		set_open_error (name, errno, error);
		return FALSE;
	}
	if (fstat (fd, &st) < 0) {
		int saved = errno;

		close (fd);
		set_open_error (name, saved, error);
		return FALSE;
	}
	close (fd);
	if ((st.st_mode & S_IFMT) != want) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "'%s' in the bundle is %s, not a %s; make the bundle again with the "
			     "bundle maker",
			     name, mu_file_describe_mode (st.st_mode),
			     want == S_IFDIR ? "directory" : "regular file");
		return FALSE;
	}
	*ret_st = st;
	return TRUE;
}

/* Opens for reading what check_type() saw; it must still be the same object. */
static int
open_checked (int dir_fd, const gchar *name, mode_t want, guint64 flags, struct stat *ret_st,
	      GError **error)
{
	struct stat seen, st;
	int fd;

	g_return_val_if_fail (name != NULL && *name != '\0' && strchr (name, '/') == NULL, -1);
	g_return_val_if_fail (error == NULL || *error == NULL, -1);

	if (!check_type (dir_fd, name, want, &seen, error))
		return -1;
	fd = open_beneath (dir_fd, name, flags | O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		set_open_error (name, errno, error);
		return -1;
	}
	if (fstat (fd, &st) < 0) {
		int saved = errno;

		close (fd);
		set_open_error (name, saved, error);
		return -1;
	}
	if ((st.st_mode & S_IFMT) != want || st.st_dev != seen.st_dev || st.st_ino != seen.st_ino) {
		close (fd);
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "'%s' in the bundle changed while it was opened", name);
		return -1;
	}
	if (ret_st != NULL)
		*ret_st = st;
	return fd;
}

int
mu_safe_open_root (const gchar *path, GError **error)
{
	int fd;

	g_return_val_if_fail (error == NULL || *error == NULL, -1);

	fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot open %s: %s", path,
			     g_strerror (saved));
	}
	return fd;
}

int
mu_safe_open_dir (int dir_fd, const gchar *name, GError **error)
{
	return open_checked (dir_fd, name, S_IFDIR, O_DIRECTORY, NULL, error);
}

int
mu_safe_open_file (int dir_fd, const gchar *name, struct stat *ret_st, GError **error)
{
	return open_checked (dir_fd, name, S_IFREG, 0, ret_st, error);
}

GBytes *
mu_safe_read_file (int dir_fd, const gchar *name, gsize max_size, GError **error)
{
	g_autoptr (GError) local_error = NULL;
	GBytes *bytes;
	int fd;

	fd = mu_safe_open_file (dir_fd, name, NULL, error);
	if (fd < 0)
		return NULL;
	bytes = mu_file_read_fd (fd, name, max_size, MU_FILE_NONE, MU_ERROR_CORRUPT_DELTA,
				 &local_error);
	close (fd);
	if (bytes == NULL) {
		if (g_error_matches (local_error, MU_ERROR, MU_ERROR_CORRUPT_DELTA))
			g_prefix_error (&local_error, "the bundle is damaged or not made by the "
						      "bundle maker: ");
		g_propagate_error (error, g_steal_pointer (&local_error));
	}
	return bytes;
}
