/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-daemon-util.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MANAGER_NAME "org.mediaupd.Manager1"

/* The last stopped child found, for the abort handler. */
static volatile GPid stopped_child;

MuLuksFixtures *
mu_test_init_as_root (int *argc, char ***argv, const gchar *why)
{
	g_test_init (argc, argv, NULL);
	if (getuid () != 0) {
		g_test_skip (why);
		return NULL;
	}
	return mu_luks_fixtures_new ();
}

int
mu_test_run_on_bus (GTestDBus **bus)
{
	int ret;

	*bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_test_dbus_up (*bus);
	ret = g_test_run ();
	g_test_dbus_down (*bus);
	g_clear_object (bus);
	return ret;
}

GDBusConnection *
mu_test_bus_connect (const gchar *address)
{
	g_autoptr (GError) error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_for_address_sync (
		address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);

	g_assert_no_error (error);
	return conn;
}

gboolean
mu_test_name_has_owner (GDBusConnection *conn, const gchar *name)
{
	g_autoptr (GVariant) reply =
		g_dbus_connection_call_sync (conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					     "org.freedesktop.DBus", "NameHasOwner",
					     g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
					     G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
	gboolean owned = FALSE;

	if (reply != NULL)
		g_variant_get (reply, "(b)", &owned);
	return owned;
}

gchar *
mu_test_case_dir_new (const gchar *tmpl, gchar **ret_config_path)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp (tmpl, &error);

	g_assert_no_error (error);
	*ret_config_path = g_build_filename (dir, "mediaupd.conf", NULL);
	return g_steal_pointer (&dir);
}

void
mu_test_case_dir_free (gchar *dir, gchar *config_path)
{
	mu_test_remove_tree (dir);
	g_free (dir);
	g_free (config_path);
}

void
mu_test_write_config (const gchar *path, const gchar *head, const gchar *tmpdir,
		      const gchar *keys_dir, const gchar *extra)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *text = g_strdup_printf ("%s"
						  "[Paths]\nStateDirectory=%s/state\n"
						  "RuntimeDirectory=%s/run\n"
						  "[Keys]\nDirectories=%s\n"
						  "%s",
						  head, tmpdir, tmpdir, keys_dir,
						  extra != NULL ? extra : "");

	g_file_set_contents (path, text, -1, &error);
	g_assert_no_error (error);
}

GSubprocessLauncher *
mu_test_launcher_new (const gchar *bus_address, GSubprocessFlags flags)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

	g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", bus_address, TRUE);
	g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
	g_subprocess_launcher_unsetenv (launcher, "MEDIAUPD_TEST_PAUSE_AT");
	return launcher;
}

GSubprocess *
mu_test_daemon_start (const gchar *bus_address, const gchar *config_path, const gchar *pause_at,
		      GDBusConnection *conn, gint64 timeout_us)
{
	g_autoptr (GSubprocessLauncher) launcher = mu_test_launcher_new (bus_address,
									 G_SUBPROCESS_FLAGS_NONE);
	g_autoptr (GError) error = NULL;
	const gchar *daemon = g_getenv ("MEDIAUPD_DAEMON");
	GSubprocess *proc;

	g_assert_nonnull (daemon);
	/* What libostree prints (e.g. "Freed objects" after an undeploy) is not TAP output. */
	g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
	if (pause_at != NULL)
		g_subprocess_launcher_setenv (launcher, "MEDIAUPD_TEST_PAUSE_AT", pause_at, TRUE);
	proc = g_subprocess_launcher_spawn (launcher, &error, daemon, "--config", config_path,
					    NULL);
	g_assert_no_error (error);
	MU_TEST_WAIT_FOR (mu_test_name_has_owner (conn, MANAGER_NAME), timeout_us);
	return proc;
}

gint
mu_test_daemon_stop (GSubprocess **daemon, GDBusConnection *conn, gint64 timeout_us)
{
	g_autoptr (GError) error = NULL;
	gint status;

	if (*daemon == NULL)
		return 0;
	g_subprocess_send_signal (*daemon, SIGTERM);
	g_subprocess_wait (*daemon, NULL, &error);
	g_assert_no_error (error);
	status = g_subprocess_get_status (*daemon);
	g_clear_object (daemon);
	MU_TEST_WAIT_FOR (!mu_test_name_has_owner (conn, MANAGER_NAME), timeout_us);
	return status;
}

/* @child's pid if it is stopped (and its command name is @comm), else 0. */
static GPid
stopped_pid (const gchar *child, const gchar *comm)
{
	g_autofree gchar *stat_path = g_strdup_printf ("/proc/%s/stat", child);
	g_autofree gchar *stat = NULL;
	const gchar *state;

	if (*child == '\0' || !g_file_get_contents (stat_path, &stat, NULL, NULL))
		return 0;
	/* "PID (comm) S ...": the state follows the last ')'. */
	state = strrchr (stat, ')');
	if (state == NULL || state[1] != ' ' || state[2] != 'T')
		return 0;
	if (comm != NULL && strstr (stat, comm) == NULL)
		return 0;
	return (GPid) g_ascii_strtoll (child, NULL, 10);
}

GPid
mu_test_stopped_child (const gchar *pid, const gchar *comm)
{
	g_autofree gchar *tasks_path = g_strdup_printf ("/proc/%s/task", pid);
	g_autoptr (GDir) tasks = g_dir_open (tasks_path, 0, NULL);
	const gchar *tid;

	/* Children are listed by the thread that started them. */
	while (tasks != NULL && (tid = g_dir_read_name (tasks)) != NULL) {
		g_autofree gchar *path = g_strdup_printf ("%s/%s/children", tasks_path, tid);
		g_autofree gchar *children = NULL;
		g_auto (GStrv) pids = NULL;

		if (!g_file_get_contents (path, &children, NULL, NULL))
			continue;
		pids = g_strsplit (g_strstrip (children), " ", -1);
		for (guint i = 0; pids[i] != NULL; i++) {
			GPid found = stopped_pid (pids[i], comm);

			if (found != 0) {
				stopped_child = found;
				return found;
			}
		}
	}
	return 0;
}

static void
kill_stopped_child (int sig)
{
	if (stopped_child > 0)
		kill (stopped_child, SIGKILL);
	signal (sig, SIG_DFL);
	raise (sig);
}

void
mu_test_kill_stopped_child_on_abort (void)
{
	signal (SIGABRT, kill_stopped_child);
	signal (SIGTRAP, kill_stopped_child);
}

void
mu_test_assert_nothing_left (const gchar *backing_dir)
{
	g_autofree gchar *mounts = NULL;
	g_autoptr (GDir) mapper = g_dir_open ("/dev/mapper", 0, NULL);
	g_autoptr (GDir) block = NULL;
	const gchar *name;

	g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mounts, NULL, NULL));
	g_assert_null (strstr (mounts, "mediaupd-"));
	while (mapper != NULL && (name = g_dir_read_name (mapper)) != NULL)
		g_assert_false (g_str_has_prefix (name, "mediaupd-"));
	if (backing_dir == NULL)
		return;
	block = g_dir_open ("/sys/block", 0, NULL);
	while (block != NULL && (name = g_dir_read_name (block)) != NULL) {
		g_autofree gchar *path = g_strdup_printf ("/sys/block/%s/loop/backing_file", name);
		g_autofree gchar *backing = NULL;

		if (g_file_get_contents (path, &backing, NULL, NULL))
			g_assert_null (strstr (backing, backing_dir));
	}
}
