/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/*
 * Subcommands of the mediaupd-bundle tool. Each takes the command line from the
 * subcommand's name on (argv[0] is "keygen", "sign", ...), parses its own options with a
 * GOptionContext and returns the process exit status. The tool's main
 * (daemon/mediaupd-bundle.c) only dispatches on the name.
 */

/* Exit statuses shared by all subcommands. */
#define MU_TOOL_EXIT_OK 0      /* done; for verify: the signature verified */
#define MU_TOOL_EXIT_FAILURE 1 /* refused or failed; the reason is on stderr */
#define MU_TOOL_EXIT_USAGE 2   /* bad options or arguments */

typedef int (*MuToolCommandFunc) (int argc, char **argv);

typedef struct {
	const gchar *name;
	MuToolCommandFunc func;
	const gchar *summary; /* one line for the tool's --help */
} MuToolCommand;

int mu_tool_cmd_keygen (int argc, char **argv);      /* mu-tool-keygen.c */
int mu_tool_cmd_sign (int argc, char **argv);        /* mu-tool-sign.c */
int mu_tool_cmd_verify (int argc, char **argv);      /* mu-tool-verify.c */
int mu_tool_cmd_inspect (int argc, char **argv);     /* mu-tool-inspect.c */
int mu_tool_cmd_create (int argc, char **argv);      /* mu-tool-create.c */
int mu_tool_cmd_rekey (int argc, char **argv);       /* mu-tool-rekey.c */
int mu_tool_cmd_sign_header (int argc, char **argv); /* mu-tool-sign-header.c */
/* Further subcommands: declare them here, one per mu-tool-NAME.c. */

/* ---- helpers for the subcommands (mu-tool.c) ---- */

/*
 * Parses @argv with @context (which should have a summary and description). On a usage
 * error prints it and a hint to stderr and returns FALSE; the caller exits with
 * MU_TOOL_EXIT_USAGE. --help is handled by GLib (prints and exits 0).
 */
gboolean mu_tool_parse_options (GOptionContext *context, int *argc, char ***argv);
/* Prints "PRGNAME: " + @message + a hint to --help to stderr; returns MU_TOOL_EXIT_USAGE. */
int mu_tool_usage_error (const gchar *format, ...) G_GNUC_PRINTF (1, 2);
/*
 * Prints "PRGNAME: " + @prefix + the error message + " [ErrorName]" (mu_error_code_to_name)
 * to stderr; returns MU_TOOL_EXIT_FAILURE.
 */
int mu_tool_fail (const gchar *prefix, const GError *error);

/* TRUE if something (even a dangling symlink) exists at @path. */
gboolean mu_tool_path_exists (const gchar *path);

/*
 * Secrets are read from files only. If @path is no file but looks like key material (40 or
 * more base64 characters), sets an error that says so without showing it, so that a secret
 * given as an option's value does not end up in a CI log; @what names the option.
 */
gboolean mu_tool_check_secret_path (const gchar *what, const gchar *path,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Writes @data to @path atomically: a temporary file in the same directory with @mode,
 * synced, then renamed into place. Unless @overwrite, an existing @path is never replaced
 * (MU_ERROR_INVALID_ARGUMENT). On failure nothing is left behind.
 */
gboolean mu_tool_write_file_atomic (const gchar *path, const void *data, gsize len, mode_t mode,
				    gboolean overwrite, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Reads (writes) exactly @len bytes at @offset, retrying short transfers and EINTR. An end of
 * file before @len bytes is MU_ERROR_CORRUPT_BUNDLE; a failed call, its errno's code. */
gboolean mu_tool_pread_all (int fd, guint8 *buf, gsize len, guint64 offset,
			    GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean mu_tool_pwrite_all (int fd, const guint8 *buf, gsize len, guint64 offset,
			     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* @bytes as lowercase hex digits. */
gchar *mu_tool_hex (GBytes *bytes) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
