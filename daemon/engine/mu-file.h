/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/stat.h>

#include <glib.h>

#include "mu-error.h"

G_BEGIN_DECLS

/*
 * Reading a whole file that may not be what its name promises (a key file, the
 * configuration, a file given on the command line, a superblock on a stick): only a
 * regular file is read, opening a FIFO does not block, a device node is never read, and
 * no more than a bound is read whatever size the file claims.
 *
 * Errors, in MU_ERROR: a file that is not there is MU_ERROR_NOT_FOUND; one that is not a
 * regular file, or is larger than the bound, @bad_code (what such a file means to the
 * caller: an invalid key, a damaged delta, a bad argument); a failing open or read
 * MU_ERROR_IO (or the code mu_error_code_from_errno() gives).
 */

typedef enum {
	MU_FILE_NONE = 0,
	/* A symlink as the last component is refused (@bad_code), not followed. */
	MU_FILE_NOFOLLOW = 1 << 0,
	/* Key material: every buffer that held the contents is wiped before it is freed. */
	MU_FILE_WIPE = 1 << 1,
} MuFileFlags;

/* "a FIFO", "a directory", ...: what a file of @mode is, for messages. */
const gchar *mu_file_describe_mode (mode_t mode);

/* @path opened O_RDONLY and checked to be a regular file; @ret_st (optional) gets its
 * fstat(). Returns the descriptor, or -1. */
G_GNUC_WARN_UNUSED_RESULT
int mu_file_open_regular (const gchar *path, MuFileFlags flags, MuErrorCode bad_code,
			  struct stat *ret_st, GError **error);

/* Reads from @fd into @buf until @size bytes are in or the file ends, retrying
 * interrupted reads; *@ret_len is what was read. @name is the file's name for messages. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_file_read_into (int fd, const gchar *name, guint8 *buf, gsize size, gsize *ret_len,
			    GError **error);

/* All of the regular file open as @fd, read with plain reads from where it stands (a
 * medium pulled under a mapping is SIGBUS): at most @max_size + 1 bytes are read, so a
 * longer file costs no more than that. */
G_GNUC_WARN_UNUSED_RESULT
GBytes *mu_file_read_fd (int fd, const gchar *name, gsize max_size, MuFileFlags flags,
			 MuErrorCode bad_code, GError **error);

/* mu_file_open_regular() and mu_file_read_fd() in one. */
G_GNUC_WARN_UNUSED_RESULT
GBytes *mu_file_read_regular (const gchar *path, gsize max_size, MuFileFlags flags,
			      MuErrorCode bad_code, GError **error);

G_END_DECLS
