/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mu-file.h"

const gchar *
mu_file_describe_mode (mode_t mode)
{
	if (S_ISLNK (mode))
		return "a symlink";
	if (S_ISFIFO (mode))
		return "a FIFO";
	if (S_ISCHR (mode))
		return "a character device";
	if (S_ISBLK (mode))
		return "a block device";
	if (S_ISSOCK (mode))
		return "a socket";
	if (S_ISDIR (mode))
		return "a directory";
	return "a regular file";
}

static gboolean
check_regular (const gchar *name, const struct stat *st, MuErrorCode bad_code, GError **error)
{
	if (S_ISREG (st->st_mode))
		return TRUE;
	g_set_error (error, MU_ERROR, bad_code, "'%s' is %s, not a regular file", name,
		     mu_file_describe_mode (st->st_mode));
	return FALSE;
}

int
mu_file_open_regular (const gchar *path, MuFileFlags flags, MuErrorCode bad_code,
		      struct stat *ret_st, GError **error)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int fd;

	g_return_val_if_fail (path != NULL, -1);
	g_return_val_if_fail (error == NULL || *error == NULL, -1);

	if (flags & MU_FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	do
		fd = open (path, oflags);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int saved = errno;

		if (saved == ELOOP && (flags & MU_FILE_NOFOLLOW))
			g_set_error (error, MU_ERROR, bad_code,
				     "'%s' is a symlink, not a regular file", path);
		else
			mu_error_set_errno (error, saved, "cannot open '%s'", path);
		return -1;
	}
	if (fstat (fd, &st) != 0) {
		int saved = errno;

		close (fd);
		mu_error_set_errno (error, saved, "cannot stat '%s'", path);
		return -1;
	}
	if (!check_regular (path, &st, bad_code, error)) {
		close (fd);
		return -1;
	}
	if (ret_st != NULL)
		*ret_st = st;
	return fd;
}

gboolean
mu_file_read_into (int fd, const gchar *name, guint8 *buf, gsize size, gsize *ret_len,
		   GError **error)
{
	gsize len = 0;

	g_return_val_if_fail (buf != NULL || size == 0, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	while (len < size) {
		ssize_t n = read (fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mu_error_set_errno (error, errno, "cannot read '%s'", name);
			return FALSE;
		}
		if (n == 0)
			break;
		len += (gsize) n;
	}
	*ret_len = len;
	return TRUE;
}

static void
buffer_free (guint8 *buf, gsize len, MuFileFlags flags)
{
	if (buf == NULL)
		return;
	if (flags & MU_FILE_WIPE)
		explicit_bzero (buf, len);
	g_free (buf);
}

typedef struct {
	guint8 *data;
	gsize len;
} WipedBlock;

static void
wiped_block_free (gpointer user_data)
{
	WipedBlock *block = user_data;

	buffer_free (block->data, block->len, MU_FILE_WIPE);
	g_free (block);
}

/* @buf (@alloc bytes, @len of them the contents) as a GBytes that owns it. */
static GBytes *
bytes_new_take (guint8 *buf, gsize alloc, gsize len, MuFileFlags flags)
{
	WipedBlock *block;

	if ((flags & MU_FILE_WIPE) == 0)
		return g_bytes_new_take (g_realloc (buf, MAX (len, 1)), len);
	/* No realloc: it would leave a copy behind that nobody wipes. */
	block = g_new0 (WipedBlock, 1);
	block->data = buf;
	block->len = alloc;
	return g_bytes_new_with_free_func (buf, len, wiped_block_free, block);
}

GBytes *
mu_file_read_fd (int fd, const gchar *name, gsize max_size, MuFileFlags flags, MuErrorCode bad_code,
		 GError **error)
{
	guint8 *buf;
	struct stat st;
	gsize alloc, done = 0;

	g_return_val_if_fail (name != NULL, NULL);
	g_return_val_if_fail (max_size < G_MAXSIZE, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (fstat (fd, &st) != 0) {
		mu_error_set_errno (error, errno, "cannot stat '%s'", name);
		return NULL;
	}
	if (!check_regular (name, &st, bad_code, error))
		return NULL;
	/* The size is what the filesystem claims; the reads below are what counts. One byte
	 * more than the bound tells "too large" from "just right". */
	alloc = (gsize) MIN ((guint64) MAX (st.st_size, 0), (guint64) max_size) + 1;
	buf = g_malloc (alloc);
	for (;;) {
		gsize n = 0;

		if (done == alloc) {
			gsize grown = MIN (alloc * 2, max_size + 1);
			guint8 *bigger;

			if (alloc > max_size)
				break;
			bigger = g_malloc (grown);
			memcpy (bigger, buf, done);
			buffer_free (buf, alloc, flags);
			buf = bigger;
			alloc = grown;
		}
		if (!mu_file_read_into (fd, name, buf + done, alloc - done, &n, error)) {
			buffer_free (buf, alloc, flags);
			return NULL;
		}
		done += n;
		if (done < alloc)
			break;
	}
	if (done > max_size) {
		buffer_free (buf, alloc, flags);
		g_set_error (error, MU_ERROR, bad_code,
			     "'%s' is larger than the %" G_GSIZE_FORMAT " bytes accepted", name,
			     max_size);
		return NULL;
	}
	return bytes_new_take (buf, alloc, done, flags);
}

GBytes *
mu_file_read_regular (const gchar *path, gsize max_size, MuFileFlags flags, MuErrorCode bad_code,
		      GError **error)
{
	GBytes *bytes;
	int fd;

	fd = mu_file_open_regular (path, flags, bad_code, NULL, error);
	if (fd < 0)
		return NULL;
	bytes = mu_file_read_fd (fd, path, max_size, flags, bad_code, error);
	close (fd);
	return bytes;
}
