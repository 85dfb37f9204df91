/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "test-luks-util.h"

/*
 * What the test programs of the daemon share: a private bus (GTestDBus) and
 * connections to it, the daemon's configuration in a temporary directory, the
 * real daemon started on the bus and stopped again, and the worker processes
 * the test hook stops at a pause point (MEDIAUPD_TEST_PAUSE_AT).
 */

/* Runs the default main context until @cond holds, failing the test after
 * @timeout_us microseconds. */
#define MU_TEST_WAIT_FOR(cond, timeout_us)                                                         \
	G_STMT_START                                                                               \
	{                                                                                          \
		gint64 deadline_ = g_get_monotonic_time () + (timeout_us);                         \
		while (!(cond)) {                                                                  \
			g_assert_cmpint (g_get_monotonic_time (), <, deadline_);                   \
			if (!g_main_context_iteration (NULL, FALSE))                               \
				g_usleep (10 * 1000);                                              \
		}                                                                                  \
	}                                                                                          \
	G_STMT_END

/*
 * g_test_init and, as root, the LUKS2 fixtures the cases share. Not as root, NULL:
 * the program's one case is skipped for @why (the daemon's workers make a mount
 * namespace of their own, which takes root) and the caller returns g_test_run ().
 */
MuLuksFixtures *mu_test_init_as_root (int *argc, char ***argv, const gchar *why);
/* The cases added, run with *@bus a private bus that is up meanwhile; their result. */
int mu_test_run_on_bus (GTestDBus **bus);

/* A client connection to the bus at @address. */
GDBusConnection *mu_test_bus_connect (const gchar *address);
gboolean mu_test_name_has_owner (GDBusConnection *conn, const gchar *name);

/* A case's temporary directory (@tmpl as g_dir_make_tmp takes it), and in
 * *@ret_config_path the path of its configuration, DIR/mediaupd.conf. */
gchar *mu_test_case_dir_new (const gchar *tmpl, gchar **ret_config_path);
/* Removes @dir and all below it; frees both. */
void mu_test_case_dir_free (gchar *dir, gchar *config_path);

/*
 * Writes the configuration @path: @head (whole groups, or ""), then state and
 * runtime directories @tmpdir/state and @tmpdir/run, the device keys in
 * @keys_dir, then @extra (whole groups, or NULL).
 */
void mu_test_write_config (const gchar *path, const gchar *head, const gchar *tmpdir,
			   const gchar *keys_dir, const gchar *extra);

/* A launcher for a program of ours on the bus at @bus_address: as its system bus,
 * without systemd's notification socket or a pause point. */
GSubprocessLauncher *mu_test_launcher_new (const gchar *bus_address, GSubprocessFlags flags);

/*
 * The daemon ($MEDIAUPD_DAEMON --config @config_path) on the bus at @bus_address,
 * stopping its workers at @pause_at unless it is NULL; returns once it owns
 * org.mediaupd.Manager1, as @conn sees it.
 */
GSubprocess *mu_test_daemon_start (const gchar *bus_address, const gchar *config_path,
				   const gchar *pause_at, GDBusConnection *conn, gint64 timeout_us);
/*
 * SIGTERM to *@daemon, if any; waits for its end and for its name to leave the bus,
 * clears *@daemon and returns its wait status, for the caller to check that it
 * exited with status 0 and was not killed (0 when there was no daemon).
 */
gint mu_test_daemon_stop (GSubprocess **daemon, GDBusConnection *conn, gint64 timeout_us);

/*
 * A child of process @pid ("self" for this one) that is stopped (at a pause point),
 * found among the children of each of its threads; with @comm, one whose command
 * name is @comm (as /proc/PID/stat shows it: "(exe)"). 0 if there is none.
 */
GPid mu_test_stopped_child (const gchar *pid, const gchar *comm);
/*
 * A stopped worker outlives a failed assertion (a stopped process cannot act on its
 * parent's death) and would hold the test's output open: on SIGABRT and SIGTRAP,
 * the last child mu_test_stopped_child found is killed.
 */
void mu_test_kill_stopped_child_on_abort (void);

/*
 * Nothing of an install is left on the host: no mount and no device-mapper
 * mapping named mediaupd-*, and with @backing_dir, no loop device over a file
 * under it.
 */
void mu_test_assert_nothing_left (const gchar *backing_dir);
