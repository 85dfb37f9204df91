/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/stat.h>

#include <glib.h>

G_BEGIN_DECLS

/*
 * Opening files inside the inner image of a bundle, whose content is chosen by whoever made
 * the bundle: a name is resolved beneath the directory given by descriptor, without
 * following any symlink or crossing a mount, and only a directory or a regular file is
 * ever opened for reading (a FIFO would block, a device node may do anything on open).
 * Names are single path components. Anything else than what is asked for (a symlink, a
 * FIFO, a device node, a missing name) is MU_ERROR_CORRUPT_DELTA: the inner image holds
 * the delta; read errors are MU_ERROR_IO.
 */

/* @path: a directory of our own (the inner mount point), opened O_PATH. */
G_GNUC_WARN_UNUSED_RESULT
int mu_safe_open_root (const gchar *path, GError **error);

/* The directory @name beneath @dir_fd, opened O_RDONLY | O_DIRECTORY. */
G_GNUC_WARN_UNUSED_RESULT
int mu_safe_open_dir (int dir_fd, const gchar *name, GError **error);

/* The regular file @name beneath @dir_fd, opened O_RDONLY; @ret_st (optional) gets its
 * fstat(). */
G_GNUC_WARN_UNUSED_RESULT
int mu_safe_open_file (int dir_fd, const gchar *name, struct stat *ret_st, GError **error);

/*
 * All of the regular file @name beneath @dir_fd, read with plain reads (a medium pulled
 * under a mapping is SIGBUS). Reads at most @max_size + 1 bytes whatever size the file
 * claims: a longer file is MU_ERROR_CORRUPT_DELTA.
 */
G_GNUC_WARN_UNUSED_RESULT
GBytes *mu_safe_read_file (int dir_fd, const gchar *name, gsize max_size, GError **error);

G_END_DECLS
