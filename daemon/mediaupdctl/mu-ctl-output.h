/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * What mediaupdctl prints, apart from the printing: pure functions from values to text, so
 * that the host tests check each format without a terminal or a daemon.
 */

/* Exit statuses of mediaupdctl; stable, documented in --help and in README.md. */
typedef enum {
	MU_CTL_EXIT_OK = 0,          /* done; for apply: installed */
	MU_CTL_EXIT_FAILED = 1,      /* refused or failed: the error's name is printed */
	MU_CTL_EXIT_USAGE = 2,       /* bad command line or configuration */
	MU_CTL_EXIT_UNREACHABLE = 3, /* no system bus, or the daemon is not running */
	MU_CTL_EXIT_DENIED = 4,      /* the bus policy refused the call (not root) */
} MuCtlExit;

#define MU_CTL_DBUS_ERROR_PREFIX "org.mediaupd.Error."

/* The exit status for a call that failed with the D-Bus error @dbus_error_name. */
MuCtlExit mu_ctl_exit_for_error_name (const gchar *dbus_error_name);

/* "NotABundle" for "org.mediaupd.Error.NotABundle"; any other name as it is; NULL or "" for
 * NULL or "". */
const gchar *mu_ctl_short_error_name (const gchar *dbus_error_name);

/* What the user can do about @dbus_error_name when it is the bus's, not the daemon's:
 * start the daemon, run as root; NULL when the daemon's own message says it. */
const gchar *mu_ctl_error_hint (const gchar *dbus_error_name);

/* "0 B", "512 B", "1.0 KiB", "12.3 MiB", "1.5 GiB": binary units, one decimal, whatever
 * the locale. */
gchar *mu_ctl_format_bytes (guint64 bytes) G_GNUC_WARN_UNUSED_RESULT;

/*
 * The progress bar of a terminal, one line of at most @width - 1 columns (the last column
 * is left free: writing it makes some terminals wrap), padded with spaces to that length
 * so that it overwrites a longer line drawn before it:
 *   "apply    [##########..........]  50%  12.0 MiB / 24.0 MiB"
 * The byte counts are left out when @bytes_total is 0 or the line is too narrow, then the
 * bar; @width 0 means 80. @phase is shown escaped and at most 12 columns wide.
 */
gchar *mu_ctl_progress_bar (const gchar *phase, guint percent, guint64 bytes_done,
			    guint64 bytes_total, guint width) G_GNUC_WARN_UNUSED_RESULT;

/* "apply 50% (12.0 MiB of 24.0 MiB)", or "unlock 10%" when no bytes are counted. */
gchar *mu_ctl_progress_text (const gchar *phase, guint percent, guint64 bytes_done,
			     guint64 bytes_total) G_GNUC_WARN_UNUSED_RESULT;

/* Which progress updates get a line of their own when stdout is no terminal: a new phase,
 * and every 10 % within one. */
typedef struct {
	gchar *phase;
	guint decile;
} MuCtlProgressFilter;

void mu_ctl_progress_filter_clear (MuCtlProgressFilter *filter);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuCtlProgressFilter, mu_ctl_progress_filter_clear)

/* TRUE if this update gets a line (and remembers it), FALSE if it is skipped. */
gboolean mu_ctl_progress_filter_pass (MuCtlProgressFilter *filter, const gchar *phase,
				      guint percent);

/* JSON lines (no newline). Every string from the daemon is escaped again here: escaping
 * twice changes nothing, and a daemon that forgot would not reach the terminal. */
gchar *mu_ctl_json_progress (const gchar *phase, guint percent, guint64 bytes_done,
			     guint64 bytes_total) G_GNUC_WARN_UNUSED_RESULT;
gchar *mu_ctl_json_state (const gchar *state) G_GNUC_WARN_UNUSED_RESULT;
/* {"event":"result","success":...,"error":...,"dbus_error":...,"message":...}, with
 * "pending_version" and "pending_commit" when given. */
gchar *mu_ctl_json_result (const gchar *dbus_error_name, const gchar *message,
			   const gchar *pending_version,
			   const gchar *pending_commit) G_GNUC_WARN_UNUSED_RESULT;
gchar *mu_ctl_json_bundle_found (const gchar *medium, const gchar *name,
				 guint64 size) G_GNUC_WARN_UNUSED_RESULT;
gchar *mu_ctl_json_bundle_skipped (const gchar *medium, const gchar *name,
				   const gchar *dbus_error_name,
				   const gchar *message) G_GNUC_WARN_UNUSED_RESULT;
/* @dbus_error_name "" or NULL: success. */
gchar *mu_ctl_json_completed (const gchar *dbus_error_name,
			      const gchar *message) G_GNUC_WARN_UNUSED_RESULT;
/* {"event":"agent","registered":...,"name":UNIQUE-NAME} for watch --agent. */
gchar *mu_ctl_json_agent (gboolean registered, const gchar *unique_name) G_GNUC_WARN_UNUSED_RESULT;
/* {"event":"daemon","running":...}: the daemon left the bus or came back. */
gchar *mu_ctl_json_daemon (gboolean running) G_GNUC_WARN_UNUSED_RESULT;
/* The end of a command that failed, or got no answer from the daemon:
 * {"event":"result","success":false,"error":...,"dbus_error":...,"message":...,"hint":...}
 * ("hint": what to do when the bus refused or nobody answered, else null). */
gchar *mu_ctl_json_error (const gchar *dbus_error_name,
			  const gchar *message) G_GNUC_WARN_UNUSED_RESULT;

/* What `mediaupdctl status` shows: the daemon's properties. */
typedef struct {
	const gchar *state;
	const gchar *phase;
	guint percent;
	guint64 bytes_done;
	guint64 bytes_total;
	const gchar *last_error_name; /* "" when the last install succeeded */
	const gchar *last_error_message;
	const gchar *current_version;
	const gchar *current_commit;
	const gchar *pending_version;
	const gchar *pending_commit;
	const gchar *reboot_policy;
	const gchar *agent;
	const gchar *const *queued_media;
	const gchar *boot_backend; /* "none", "uboot", "grub" */
	gboolean boot_armed;
	guint boot_count;
	guint boot_limit;
	const gchar *last_good_commit;
	const gchar *rolled_back_commit; /* "" when there was no rollback */
	const gchar *rolled_back_version;
	const gchar *const *blacklist;
} MuCtlStatus;

/* One JSON object: "state", "progress" {phase, percentage, bytes_done, bytes_total},
 * "last_error" (null or {error, dbus_error, message}), "current_version", "current_commit",
 * "pending_version", "pending_commit" (null when "" on the bus), "reboot_policy", "agent"
 * (null when none), "queued_media" (an array), "boot" {backend, armed, count, limit,
 * last_good_commit, rolled_back_from (null or {commit, version}), blacklist (an array)}. */
gchar *mu_ctl_status_to_json (const MuCtlStatus *status) G_GNUC_WARN_UNUSED_RESULT;
/* The same for people, one "Name:  value" line each, ending in a newline. */
gchar *mu_ctl_status_to_text (const MuCtlStatus *status) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
