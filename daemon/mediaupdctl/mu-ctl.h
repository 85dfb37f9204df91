/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "mu-ctl-output.h"
#include "mu-dbus-manager.h"

G_BEGIN_DECLS

/* The commands of mediaupdctl; each parses its own options (argv[0] is its name) and
 * returns the exit status. */
int mu_ctl_apply_local (const gchar *bundle, gboolean json, const gchar *config_path);
int mu_ctl_cmd_apply (int argc, char **argv);
int mu_ctl_cmd_status (int argc, char **argv);
int mu_ctl_cmd_inspect (int argc, char **argv);
int mu_ctl_cmd_mark_good (int argc, char **argv);
int mu_ctl_cmd_cancel (int argc, char **argv);
int mu_ctl_cmd_clear_blacklist (int argc, char **argv);
int mu_ctl_cmd_watch (int argc, char **argv);
int mu_ctl_cmd_keys (int argc, char **argv);

/* The exit statuses, as --help shows them. */
#define MU_CTL_EXIT_HELP                                                                           \
	"Exit status:\n"                                                                           \
	"  0  done (apply: installed; watch --exit-on-completed: the install succeeded)\n"         \
	"  1  refused or failed: the error's name is printed (e.g. NotABundle)\n"                  \
	"  2  usage: bad command line or configuration\n"                                          \
	"  3  the system bus or the mediaupd daemon is not reachable\n"                            \
	"  4  the bus policy refused the call: run it as root\n"

/*
 * Where a command prints. When the reader of stdout has gone (`... --json | head -1`:
 * EPIPE, SIGPIPE being ignored), nothing more is printed, and the command goes on to its
 * end as if nothing happened: an install stopped half-way would leave more to clean up
 * than one finished, and the journal keeps the whole record.
 */
typedef struct {
	gboolean json;
	gboolean tty;
	gboolean closed;
} MuCtlOut;

void mu_ctl_out_init (MuCtlOut *out, gboolean json);
void mu_ctl_out_printf (MuCtlOut *out, const gchar *format, ...) G_GNUC_PRINTF (2, 3);
/* @line and a newline. */
void mu_ctl_out_line (MuCtlOut *out, const gchar *line);

/* Parses a command's options and checks that @n_args arguments remain (any number if
 * negative); on a usage error prints it with @usage and returns FALSE. */
gboolean mu_ctl_parse_options (GOptionContext *ctx, int *argc, char ***argv, int n_args,
			       const gchar *usage);

/*
 * The daemon's object on the system bus (DBUS_SYSTEM_BUS_ADDRESS), checked to answer:
 * the daemon is started by D-Bus activation if it is not running. On failure reports why
 * (with --json as the result line of a failure) and sets @ret_exit.
 */
MuDBusManager1 *mu_ctl_connect (MuCtlOut *out, MuCtlExit *ret_exit);

/* Reports the failure of a call to the daemon (a D-Bus error or a local one) and returns
 * the exit status for it. */
MuCtlExit mu_ctl_report_error (MuCtlOut *out, const gchar *what, const GError *error);

/* The D-Bus error name of @error: the remote name, or one for a local failure. */
gchar *mu_ctl_error_dbus_name (const GError *error) G_GNUC_WARN_UNUSED_RESULT;

/* Opens @path for passing to the daemon: read-only, no symlink as its last component, a
 * regular file only (never a FIFO or a device, which would block or act on open). */
int mu_ctl_open_bundle (const gchar *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Follows the daemon's Progress property for apply and watch: on a terminal (@bar) one
 * line redrawn, otherwise a line per phase and per 10 %; with --json a line per change.
 */
typedef struct {
	MuCtlOut *out;
	gboolean bar;
	gboolean bar_drawn; /* a bar is on the screen, the cursor after it */
	MuCtlProgressFilter filter;
	gchar *last_phase; /* the last JSON line's */
	guint last_percent;
} MuCtlProgressView;

void mu_ctl_progress_view_init (MuCtlProgressView *view, MuCtlOut *out, gboolean bar);
void mu_ctl_progress_view_clear (MuCtlProgressView *view);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuCtlProgressView, mu_ctl_progress_view_clear)
/* @progress: the Progress property, (sutt); ignored when NULL or of another type. */
void mu_ctl_progress_view_update (MuCtlProgressView *view, GVariant *progress);
/* Ends the bar's line, if one is drawn, before anything else is printed. */
void mu_ctl_progress_view_break (MuCtlProgressView *view);

G_END_DECLS
