/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-escape.h"
#include "mu-tool.h"

gboolean
mu_tool_parse_options (GOptionContext *context, int *argc, char ***argv)
{
	g_autoptr (GError) error = NULL;

	if (g_option_context_parse (context, argc, argv, &error))
		return TRUE;
	mu_tool_usage_error ("%s", error->message);
	return FALSE;
}

int
mu_tool_usage_error (const gchar *format, ...)
{
	g_autofree gchar *message = NULL;
	va_list args;

	va_start (args, format);
	message = g_strdup_vprintf (format, args);
	va_end (args);
	g_printerr ("%s: %s\nTry '%s --help' for the usage.\n", g_get_prgname (), message,
		    g_get_prgname ());
	return MU_TOOL_EXIT_USAGE;
}

int
mu_tool_fail (const gchar *prefix, const GError *error)
{
	/* Messages may quote a label or file name from a bundle. */
	g_autofree gchar *message = mu_escape_untrusted (error->message);

	g_printerr ("%s: %s%s [%s]\n", g_get_prgname (), prefix != NULL ? prefix : "", message,
		    error->domain == MU_ERROR ? mu_error_code_to_name (error->code) : "Failed");
	return MU_TOOL_EXIT_FAILURE;
}

gboolean
mu_tool_path_exists (const gchar *path)
{
	GStatBuf st;

	return g_lstat (path, &st) == 0 || errno != ENOENT;
}

gboolean
mu_tool_check_secret_path (const gchar *what, const gchar *path, GError **error)
{
	gsize len = strlen (path);

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (len < 40 ||
	    strspn (path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789+/=") != len ||
	    mu_tool_path_exists (path))
		return TRUE;
	g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
		     "%s: the value given (not shown) looks like key material, not a file path; "
		     "secrets are read from files only: give the path of the file holding it "
		     "(GitLab: a variable of type File)",
		     what);
	return FALSE;
}

static gboolean
write_all (int fd, const guint8 *data, gsize len)
{
	while (len > 0) {
		gssize n = write (fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= (gsize) n;
	}
	return TRUE;
}

/* Moves @tmp to @path; without @overwrite, fails with EEXIST if @path exists. */
static int
move_into_place (const gchar *tmp, const gchar *path, gboolean overwrite)
{
	if (overwrite)
		return rename (tmp, path);
	if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* The file system cannot rename without replacing: a hard link cannot replace either. */
	if (link (tmp, path) != 0)
		return -1;
	(void) unlink (tmp);
	return 0;
}

gboolean
mu_tool_write_file_atomic (const gchar *path, const void *data, gsize len, mode_t mode,
			   gboolean overwrite, GError **error)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *base = NULL;
	g_autofree gchar *tmp = NULL;
	int fd;
	int errsv;

	g_return_val_if_fail (path != NULL, FALSE);
	g_return_val_if_fail (data != NULL || len == 0, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	dir = g_path_get_dirname (path);
	base = g_path_get_basename (path);
	tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
	fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		mu_error_set_errno (error, errno,
				    "cannot create '%s' (the directory '%s' must exist and be "
				    "writable)",
				    path, dir);
		return FALSE;
	}
	if (fchmod (fd, mode) != 0 || !write_all (fd, data, len) || fsync (fd) != 0) {
		errsv = errno;
		close (fd);
		(void) unlink (tmp);
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot write '%s': %s", path,
			     g_strerror (errsv));
		return FALSE;
	}
	if (close (fd) != 0 || move_into_place (tmp, path, overwrite) != 0) {
		errsv = errno;
		(void) unlink (tmp);
		if (errsv == EEXIST) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "'%s' already exists; refusing to overwrite it (remove it "
				     "or choose another name)",
				     path);
			return FALSE;
		}
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot write '%s': %s", path,
			     g_strerror (errsv));
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_tool_pread_all (int fd, guint8 *buf, gsize len, guint64 offset, GError **error)
{
	while (len > 0) {
		gssize n = pread (fd, buf, len, (off_t) offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mu_error_set_errno (error, errno,
					    "cannot read at offset %" G_GUINT64_FORMAT, offset);
			return FALSE;
		}
		if (n == 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "the file ends before offset %" G_GUINT64_FORMAT, offset);
			return FALSE;
		}
		buf += n;
		len -= (gsize) n;
		offset += (guint64) n;
	}
	return TRUE;
}

gboolean
mu_tool_pwrite_all (int fd, const guint8 *buf, gsize len, guint64 offset, GError **error)
{
	while (len > 0) {
		gssize n = pwrite (fd, buf, len, (off_t) offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			mu_error_set_errno (error, n < 0 ? errno : ENOSPC,
					    "cannot write at offset %" G_GUINT64_FORMAT, offset);
			return FALSE;
		}
		buf += n;
		len -= (gsize) n;
		offset += (guint64) n;
	}
	return TRUE;
}

gchar *
mu_tool_hex (GBytes *bytes)
{
	gsize len;
	const guint8 *data = g_bytes_get_data (bytes, &len);
	GString *hex = g_string_new (NULL);

	for (gsize i = 0; i < len; i++)
		g_string_append_printf (hex, "%02x", data[i]);
	return g_string_free (hex, FALSE);
}
