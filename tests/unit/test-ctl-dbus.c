/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mediaupdctl against the real daemon (build/daemon/mediaupd/mediaupd) on a private bus:
 * GTestDBus, with DBUS_SYSTEM_BUS_ADDRESS pointed at it for both, a configuration whose
 * state and runtime directories are temporary and [Media] Source=none (no udisks2 here).
 * Every case runs the mediaupdctl binary and checks its exit status, its output and what
 * the daemon shows afterwards.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-daemon-util.h"
#include "test-luks-util.h"

#define NAME "org.mediaupd.Manager1"
#define TIMEOUT_US (60 * G_USEC_PER_SEC)

static MuLuksFixtures *luks;
static GTestDBus *test_bus;

typedef struct {
	gchar *tmpdir;
	gchar *config_path;
	gchar *address;   /* of the bus the daemon is on */
	GSubprocess *bus; /* a bus of our own (the policy case), else NULL: test_bus */
	GSubprocess *daemon;
	GDBusConnection *conn;
} Fixture;

/* What one run of mediaupdctl printed, and how it ended. */
typedef struct {
	gint exit_status;
	gchar *out;
	gchar *err;
	GPtrArray *lines; /* JsonNode of each stdout line that is JSON */
} Run;

static void
run_clear (Run *r)
{
	g_clear_pointer (&r->out, g_free);
	g_clear_pointer (&r->err, g_free);
	g_clear_pointer (&r->lines, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static gboolean
name_has_owner (GDBusConnection *conn)
{
	return mu_test_name_has_owner (conn, NAME);
}

#define WAIT_FOR(cond) MU_TEST_WAIT_FOR (cond, TIMEOUT_US)

static void
start_daemon (Fixture *f, const gchar *extra_config, const gchar *pause_at)
{
	g_autofree gchar *keys = g_build_filename (luks->tmpdir, "keys", NULL);

	mu_test_write_config (f->config_path, "[Media]\nSource=none\n", f->tmpdir, keys,
			      extra_config);
	f->daemon = mu_test_daemon_start (f->address, f->config_path, pause_at, f->conn,
					  TIMEOUT_US);
}

static void
stop_daemon (Fixture *f)
{
	gint status = mu_test_daemon_stop (&f->daemon, f->conn, TIMEOUT_US);

	g_assert_true (WIFEXITED (status));
	g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
parse_lines (Run *r)
{
	g_auto (GStrv) lines = g_strsplit (r->out, "\n", -1);

	r->lines = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
	for (gsize i = 0; lines[i] != NULL; i++) {
		g_autoptr (JsonParser) parser = json_parser_new ();

		if (*lines[i] != '{')
			continue;
		g_assert_true (json_parser_load_from_data (parser, lines[i], -1, NULL));
		g_ptr_array_add (r->lines, json_node_copy (json_parser_get_root (parser)));
	}
}

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
	*(GAsyncResult **) user_data = g_object_ref (result);
}

/* Collects what @proc printed and its exit status; a run that hangs (a FIFO opened
 * blocking, a call without an answer) fails the test here, not at meson's timeout. */
static void
finish_run (GSubprocess *proc, Run *r)
{
	g_autoptr (GAsyncResult) result = NULL;
	g_autoptr (GError) error = NULL;
	gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

	g_subprocess_communicate_utf8_async (proc, NULL, NULL, on_communicated, &result);
	while (result == NULL) {
		if (g_get_monotonic_time () > deadline) {
			g_autofree gchar *pid = g_strdup (g_subprocess_get_identifier (proc));

			g_subprocess_force_exit (proc);
			g_error ("mediaupdctl (pid %s) did not end within %d s", pid,
				 (int) (TIMEOUT_US / G_USEC_PER_SEC));
		}
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (10 * 1000);
	}
	(void) g_subprocess_communicate_utf8_finish (proc, result, &r->out, &r->err, &error);
	g_assert_no_error (error);
	g_assert_true (g_subprocess_get_if_exited (proc));
	r->exit_status = g_subprocess_get_exit_status (proc);
	parse_lines (r);
	g_test_message ("exit %d\nstdout: %s\nstderr: %s", r->exit_status, r->out, r->err);
}

/* In the child: become nobody. */
static void
drop_to_nobody (gpointer user_data)
{
	if (setgroups (0, NULL) != 0 || setgid (65534) != 0 || setuid (65534) != 0)
		_exit (99);
}

static GSubprocess *
spawn_ctl_as (const gchar *bus_address, gboolean nobody, const gchar *const *args)
{
	g_autoptr (GSubprocessLauncher) launcher =
		mu_test_launcher_new (bus_address, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
							   G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr (GPtrArray) argv = g_ptr_array_new ();
	g_autoptr (GError) error = NULL;
	GSubprocess *proc;

	g_assert_nonnull (g_getenv ("MEDIAUPD_CTL"));
	g_ptr_array_add (argv, (gpointer) g_getenv ("MEDIAUPD_CTL"));
	for (gsize i = 0; args[i] != NULL; i++)
		g_ptr_array_add (argv, (gpointer) args[i]);
	g_ptr_array_add (argv, NULL);
	if (nobody)
		g_subprocess_launcher_set_child_setup (launcher, drop_to_nobody, NULL, NULL);
	proc = g_subprocess_launcher_spawnv (launcher, (const gchar *const *) argv->pdata, &error);
	g_assert_no_error (error);
	return proc;
}

static GSubprocess *
spawn_ctl_on (const gchar *bus_address, const gchar *const *args)
{
	return spawn_ctl_as (bus_address, FALSE, args);
}

#define CTL(r, ...)                                                                                \
	G_STMT_START                                                                               \
	{                                                                                          \
		const gchar *const args_[] = { __VA_ARGS__, NULL };                                \
		g_autoptr (GSubprocess) proc_ =                                                    \
			spawn_ctl_on (g_test_dbus_get_bus_address (test_bus), args_);              \
		finish_run (proc_, (r));                                                           \
	}                                                                                          \
	G_STMT_END

static JsonObject *
line_object (Run *r, guint i)
{
	g_assert_cmpuint (i, <, r->lines->len);
	g_assert_true (JSON_NODE_HOLDS_OBJECT (r->lines->pdata[i]));
	return json_node_get_object (r->lines->pdata[i]);
}

static JsonObject *
last_object (Run *r)
{
	g_assert_cmpuint (r->lines->len, >, 0);
	return line_object (r, r->lines->len - 1);
}

static const gchar *
string_member (JsonObject *o, const gchar *name)
{
	JsonNode *node = json_object_get_member (o, name);

	g_assert_nonnull (node);
	if (JSON_NODE_HOLDS_NULL (node))
		return NULL;
	return json_node_get_string (node);
}

/* The daemon's status, through mediaupdctl. */
static JsonObject *
status_json (Run *r)
{
	CTL (r, "status", "--json");
	g_assert_cmpint (r->exit_status, ==, 0);
	g_assert_cmpuint (r->lines->len, ==, 1);
	return last_object (r);
}

/* Nothing of an install is left on the host: no mapping, no mount of ours. */
static void
assert_nothing_left (void)
{
	mu_test_assert_nothing_left (NULL);
}

/* The daemon's child, once it has stopped itself at the test hook, else 0. */
static GPid
stopped_worker (Fixture *f)
{
	return mu_test_stopped_child (g_subprocess_get_identifier (f->daemon), NULL);
}

static void
connect_fixture (Fixture *f)
{
	f->conn = mu_test_bus_connect (f->address);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
	f->tmpdir = mu_test_case_dir_new ("mu-test-ctl-XXXXXX", &f->config_path);
	f->address = g_strdup (g_test_dbus_get_bus_address (test_bus));
	connect_fixture (f);
}

/*
 * A bus of our own with a system bus's default policy and mediaupd's shipped policy
 * (systemd/org.mediaupd.Manager1.conf), so that a caller that is not root is refused as
 * on a device. Its directory is open to everybody: nobody connects to it.
 */
static void
fixture_set_up_policy (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *bus_conf = NULL;
	g_autofree gchar *socket = NULL;
	g_autofree gchar *policy = NULL;
	g_autofree gchar *text = NULL;

	f->tmpdir = mu_test_case_dir_new ("mu-test-ctl-XXXXXX", &f->config_path);
	g_assert_cmpint (chmod (f->tmpdir, 0755), ==, 0);
	bus_conf = g_build_filename (f->tmpdir, "bus.conf", NULL);
	socket = g_build_filename (f->tmpdir, "system_bus_socket", NULL);
	policy = g_build_filename (g_getenv ("MEDIAUPD_SOURCE_ROOT"), "systemd",
				   "org.mediaupd.Manager1.conf", NULL);
	g_assert_true (g_file_test (policy, G_FILE_TEST_EXISTS));
	text = g_strdup_printf (
		"<busconfig>\n"
		"  <type>system</type>\n"
		"  <listen>unix:path=%s</listen>\n"
		"  <auth>EXTERNAL</auth>\n"
		"  <policy context=\"default\">\n"
		"    <allow user=\"*\"/>\n"
		"    <deny own=\"*\"/>\n"
		"    <deny send_type=\"method_call\"/>\n"
		"    <allow send_type=\"signal\"/>\n"
		"    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
		"    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
		"    <allow receive_type=\"method_call\"/>\n"
		"    <allow receive_type=\"method_return\"/>\n"
		"    <allow receive_type=\"error\"/>\n"
		"    <allow receive_type=\"signal\"/>\n"
		"    <allow send_destination=\"org.freedesktop.DBus\"/>\n"
		"  </policy>\n"
		"  <include>%s</include>\n"
		"</busconfig>\n",
		socket, policy);
	g_file_set_contents (bus_conf, text, -1, &error);
	g_assert_no_error (error);
	f->bus = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "dbus-daemon", "--nofork",
				   "--config-file", bus_conf, NULL);
	g_assert_no_error (error);
	WAIT_FOR (g_file_test (socket, G_FILE_TEST_EXISTS));
	f->address = g_strdup_printf ("unix:path=%s", socket);
	connect_fixture (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
	stop_daemon (f);
	g_dbus_connection_close_sync (f->conn, NULL, NULL);
	g_clear_object (&f->conn);
	if (f->bus != NULL) {
		g_subprocess_send_signal (f->bus, SIGTERM);
		g_subprocess_wait (f->bus, NULL, NULL);
		g_clear_object (&f->bus);
	}
	g_free (f->address);
	mu_test_case_dir_free (f->tmpdir, f->config_path);
}

/* ---- tests ---- */

static void
test_status (Fixture *f, gconstpointer data)
{
	g_auto (Run) r = { 0 };
	g_auto (Run) text = { 0 };
	JsonObject *o;
	JsonObject *progress;

	start_daemon (f, "[Reboot]\nPolicy=never\n", NULL);
	o = status_json (&r);
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	g_assert_cmpstr (string_member (o, "reboot_policy"), ==, "never");
	g_assert_null (string_member (o, "agent"));
	g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "last_error")));
	/* The host is no OSTree system. */
	g_assert_null (string_member (o, "current_commit"));
	g_assert_null (string_member (o, "pending_commit"));
	g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "queued_media")),
			  ==, 0);
	progress = json_object_get_object_member (o, "progress");
	g_assert_cmpstr (string_member (progress, "phase"), ==, "");
	g_assert_cmpint (json_object_get_int_member (progress, "percentage"), ==, 0);

	CTL (&text, "status");
	g_assert_cmpint (text.exit_status, ==, 0);
	g_assert_nonnull (strstr (text.out, "State:          idle\n"));
	g_assert_nonnull (strstr (text.out, "Reboot policy:  never\n"));
	g_assert_nonnull (strstr (text.out, "Agent:          none\n"));
	g_assert_cmpstr (text.err, ==, "");
}

static void
test_inspect (Fixture *f, gconstpointer data)
{
	g_auto (Run) r = { 0 };
	g_auto (Run) text = { 0 };
	g_auto (Run) bad = { 0 };
	g_auto (Run) foreign = { 0 };
	g_auto (Run) after = { 0 };
	JsonObject *o;
	JsonArray *slots;
	JsonArray *ids;
	struct stat st;

	start_daemon (f, NULL, NULL);
	CTL (&r, "inspect", luks->three, "--json");
	g_assert_cmpint (r.exit_status, ==, 0);
	g_assert_cmpuint (r.lines->len, ==, 1);
	o = last_object (&r);
	g_assert_cmpstr (string_member (o, "file"), ==, luks->three);
	g_assert_cmpstr (string_member (o, "format"), ==, "mediaupd-v1");
	g_assert_cmpstr (string_member (o, "label"), ==, "mediaupd-bundle");
	g_assert_cmpint (stat (luks->three, &st), ==, 0);
	g_assert_cmpint (json_object_get_int_member (o, "size"), ==, st.st_size);
	slots = json_object_get_array_member (o, "keyslots");
	g_assert_cmpuint (json_array_get_length (slots), ==, 3);
	g_assert_cmpint (json_array_get_int_element (slots, 0), ==, 0);
	g_assert_cmpint (json_array_get_int_element (slots, 2), ==, 2);
	ids = json_object_get_array_member (o, "device_key_ids");
	g_assert_cmpuint (json_array_get_length (ids), ==, 3);

	CTL (&text, "inspect", luks->three);
	g_assert_cmpint (text.exit_status, ==, 0);
	g_assert_nonnull (strstr (text.out, "Format:     mediaupd-v1\n"));
	g_assert_nonnull (strstr (text.out, "Keyslots:   0, 1, 2\n"));
	g_assert_nonnull (strstr (text.out, "main-2026"));

	/* Random bytes: the daemon's verdict, by name, and exit status 1. */
	CTL (&bad, "inspect", luks->random, "--json");
	g_assert_cmpint (bad.exit_status, ==, 1);
	o = last_object (&bad);
	g_assert_false (json_object_get_boolean_member (o, "success"));
	g_assert_cmpstr (string_member (o, "error"), ==, "NotABundle");
	g_assert_cmpstr (string_member (o, "dbus_error"), ==, "org.mediaupd.Error.NotABundle");
	/* The message is the daemon's, without GDBus's prefix. */
	g_assert_false (g_str_has_prefix (string_member (o, "message"), "GDBus.Error"));

	CTL (&foreign, "inspect", luks->foreign);
	g_assert_cmpint (foreign.exit_status, ==, 1);
	g_assert_nonnull (strstr (foreign.err, "(NotABundle)"));
	g_assert_nonnull (strstr (foreign.err, "someone-else"));
	g_assert_cmpstr (foreign.out, ==, "");

	/* An inspection is no install: nothing recorded. */
	o = status_json (&after);
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "last_error")));
}

/* Files that are no regular file are refused here, before the daemon is asked. */
static void
test_refused_files (Fixture *f, gconstpointer data)
{
	g_autofree gchar *link = g_build_filename (f->tmpdir, "link.enc", NULL);
	g_autofree gchar *fifo = g_build_filename (f->tmpdir, "fifo.enc", NULL);
	g_autofree gchar *missing = g_build_filename (f->tmpdir, "missing.enc", NULL);
	const struct {
		const gchar *command;
		const gchar *path;
		const gchar *error;
		const gchar *words;
	} cases[] = {
		{ "apply", luks->directory, "InvalidArgument", "is a directory" },
		{ "apply", link, "InvalidArgument", "is a symbolic link" },
		{ "apply", fifo, "InvalidArgument", "is a FIFO" },
		{ "apply", missing, "NotFound", "does not exist" },
		{ "inspect", link, "InvalidArgument", "is a symbolic link" },
		{ "inspect", fifo, "InvalidArgument", "is a FIFO" },
	};
	g_auto (Run) after = { 0 };
	JsonObject *o;

	g_assert_cmpint (symlink (luks->three, link), ==, 0);
	g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
	start_daemon (f, NULL, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_auto (Run) r = { 0 };
		g_auto (Run) text = { 0 };

		g_test_message ("%s %s", cases[i].command, cases[i].path);
		/* A FIFO without a writer would block an open() without O_NONBLOCK. */
		CTL (&r, cases[i].command, cases[i].path, "--json");
		g_assert_cmpint (r.exit_status, ==, 1);
		o = last_object (&r);
		g_assert_false (json_object_get_boolean_member (o, "success"));
		g_assert_cmpstr (string_member (o, "error"), ==, cases[i].error);
		g_assert_nonnull (strstr (string_member (o, "message"), cases[i].words));
		CTL (&text, cases[i].command, cases[i].path);
		g_assert_cmpint (text.exit_status, ==, 1);
		g_assert_nonnull (strstr (text.err, cases[i].words));
		g_assert_nonnull (strstr (text.err, cases[i].error));
	}
	/* The daemon never saw any of them. */
	o = status_json (&after);
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "last_error")));
}

static void
test_apply_not_a_bundle (Fixture *f, gconstpointer data)
{
	g_auto (Run) r = { 0 };
	g_auto (Run) text = { 0 };
	g_auto (Run) after = { 0 };
	JsonObject *o;
	JsonObject *last_error;

	start_daemon (f, NULL, NULL);
	CTL (&r, "apply", luks->random, "--json");
	g_assert_cmpint (r.exit_status, ==, 1);
	o = last_object (&r);
	g_assert_cmpstr (string_member (o, "event"), ==, "result");
	g_assert_false (json_object_get_boolean_member (o, "success"));
	g_assert_cmpstr (string_member (o, "error"), ==, "NotABundle");
	g_assert_cmpstr (string_member (o, "dbus_error"), ==, "org.mediaupd.Error.NotABundle");
	g_assert_nonnull (strstr (string_member (o, "message"), "discover: "));
	/* Every line before it is a progress or state event. */
	for (guint i = 0; i + 1 < r.lines->len; i++) {
		const gchar *event = string_member (line_object (&r, i), "event");

		g_assert_true (g_str_equal (event, "progress") || g_str_equal (event, "state"));
	}
	g_assert_cmpstr (r.err, ==, "");

	/* The daemon recorded it; the device is as it was. */
	o = status_json (&after);
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	last_error = json_object_get_object_member (o, "last_error");
	g_assert_cmpstr (string_member (last_error, "error"), ==, "NotABundle");
	g_assert_null (string_member (o, "pending_commit"));
	assert_nothing_left ();

	/* For people: the reason on stderr, by name. */
	CTL (&text, "apply", luks->random);
	g_assert_cmpint (text.exit_status, ==, 1);
	g_assert_nonnull (strstr (text.err, "failed: "));
	g_assert_nonnull (strstr (text.err, "(NotABundle)"));
	g_assert_null (strstr (text.err, "GDBus.Error"));
}

/* Ctrl-C during an install asks the daemon to cancel; the install ends Cancelled. */
static void
test_apply_interrupted (Fixture *f, gconstpointer data)
{
	const gchar *const args[] = { "apply", luks->unsigned_v2, "--json", NULL };
	g_autoptr (GSubprocess) ctl = NULL;
	g_auto (Run) r = { 0 };
	g_auto (Run) after = { 0 };
	gboolean saw_checking = FALSE;
	JsonObject *o;
	GPid worker;

	if (!MEDIAUPD_TEST_HOOKS) {
		g_test_skip ("needs the pause points of -Dtest_hooks=true");
		return;
	}
	start_daemon (f, NULL, "discover");
	ctl = spawn_ctl_on (g_test_dbus_get_bus_address (test_bus), args);
	WAIT_FOR ((worker = stopped_worker (f)) != 0);
	g_subprocess_send_signal (ctl, SIGINT);
	/* The cancel reaches the daemon while its worker is stopped; then it goes on to its
	 * next safe point. */
	g_usleep (G_USEC_PER_SEC / 2);
	g_assert_cmpint (kill (worker, SIGCONT), ==, 0);
	finish_run (ctl, &r);
	g_assert_cmpint (r.exit_status, ==, 1);
	o = last_object (&r);
	g_assert_cmpstr (string_member (o, "error"), ==, "Cancelled");
	/* It followed the State property while it waited. */
	for (guint i = 0; i + 1 < r.lines->len; i++) {
		JsonObject *line = line_object (&r, i);

		if (g_str_equal (string_member (line, "event"), "state") &&
		    g_str_equal (string_member (line, "state"), "checking"))
			saw_checking = TRUE;
	}
	g_assert_true (saw_checking);
	o = status_json (&after);
	g_assert_cmpstr (string_member (json_object_get_object_member (o, "last_error"), "error"),
			 ==, "Cancelled");
	assert_nothing_left ();
}

static void
test_cancel_idle (Fixture *f, gconstpointer data)
{
	g_auto (Run) r = { 0 };
	g_auto (Run) text = { 0 };
	g_auto (Run) after = { 0 };
	JsonObject *o;

	start_daemon (f, NULL, NULL);
	CTL (&r, "cancel", "--json");
	g_assert_cmpint (r.exit_status, ==, 1);
	o = last_object (&r);
	g_assert_cmpstr (string_member (o, "error"), ==, "NotRunning");
	g_assert_null (string_member (o, "hint"));
	CTL (&text, "cancel");
	g_assert_cmpint (text.exit_status, ==, 1);
	g_assert_nonnull (strstr (text.err, "(NotRunning)"));
	o = status_json (&after);
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "last_error")));
}

/* Reads @proc's stdout up to a JSON line with "event" @event; returns it. */
static JsonObject *
read_until_event (GDataInputStream *in, JsonParser *parser, const gchar *event)
{
	for (;;) {
		g_autoptr (GError) error = NULL;
		g_autofree gchar *line = NULL;
		JsonObject *o;

		line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
		g_assert_no_error (error);
		g_assert_nonnull (line); /* it ended before */
		g_test_message ("watch: %s", line);
		g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
		o = json_node_get_object (json_parser_get_root (parser));
		if (g_strcmp0 (json_object_get_string_member (o, "event"), event) == 0)
			return o;
	}
}

static void
test_watch_agent (Fixture *f, gconstpointer data)
{
	const gchar *const args[] = { "watch", "--agent", "--json", NULL };
	g_autoptr (GSubprocess) watch = NULL;
	g_autoptr (GDataInputStream) in = NULL;
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autofree gchar *agent_name = NULL;
	g_auto (Run) during = { 0 };
	g_auto (Run) second = { 0 };
	g_auto (Run) text = { 0 };
	g_auto (Run) r = { 0 };
	g_auto (Run) after = { 0 };
	JsonObject *o;

	start_daemon (f, NULL, NULL);
	watch = spawn_ctl_on (g_test_dbus_get_bus_address (test_bus), args);
	in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (watch));
	o = read_until_event (in, parser, "state");
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	o = read_until_event (in, parser, "agent");
	g_assert_true (json_object_get_boolean_member (o, "registered"));
	agent_name = g_strdup (string_member (o, "name"));
	g_assert_true (g_str_has_prefix (agent_name, ":"));

	/* The daemon shows it while it runs. */
	o = status_json (&during);
	g_assert_cmpstr (string_member (o, "agent"), ==, agent_name);
	CTL (&text, "status");
	g_assert_nonnull (strstr (text.out, agent_name));
	/* One agent at a time. */
	CTL (&second, "watch", "--agent", "--json");
	g_assert_cmpint (second.exit_status, ==, 1);
	g_assert_cmpstr (string_member (last_object (&second), "error"), ==, "Busy");

	/* An install seen by the watcher: its Completed line. */
	CTL (&r, "apply", luks->random, "--json");
	g_assert_cmpint (r.exit_status, ==, 1);
	o = read_until_event (in, parser, "completed");
	g_assert_false (json_object_get_boolean_member (o, "success"));
	g_assert_cmpstr (string_member (o, "error"), ==, "NotABundle");

	/* Interrupted, it unregisters and ends with 0. */
	g_subprocess_send_signal (watch, SIGTERM);
	o = read_until_event (in, parser, "agent");
	g_assert_false (json_object_get_boolean_member (o, "registered"));
	g_subprocess_wait (watch, NULL, NULL);
	g_assert_true (g_subprocess_get_if_exited (watch));
	g_assert_cmpint (g_subprocess_get_exit_status (watch), ==, 0);
	o = status_json (&after);
	g_assert_null (string_member (o, "agent"));
}

/* watch --exit-on-completed ends with the install's status: 1 for a refusal. */
static void
test_watch_exit_on_completed (Fixture *f, gconstpointer data)
{
	const gchar *const args[] = { "watch", "--exit-on-completed", NULL };
	g_autoptr (GSubprocess) watch = NULL;
	g_autoptr (GDataInputStream) in = NULL;
	g_autofree gchar *first = NULL;
	g_auto (Run) r = { 0 };

	start_daemon (f, NULL, NULL);
	watch = spawn_ctl_on (g_test_dbus_get_bus_address (test_bus), args);
	in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (watch));
	/* Its first line: it follows the daemon from now on. */
	first = g_data_input_stream_read_line_utf8 (in, NULL, NULL, NULL);
	g_assert_cmpstr (first, ==, "State: idle");
	CTL (&r, "apply", luks->random);
	g_assert_cmpint (r.exit_status, ==, 1);
	{
		g_autoptr (GString) out = g_string_new (NULL);
		g_autofree gchar *line = NULL;

		/* It ends by itself: its stdout closes. */
		while ((line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, NULL)) != NULL) {
			g_string_append_printf (out, "%s\n", line);
			g_clear_pointer (&line, g_free);
		}
		g_test_message ("watch: %s", out->str);
		/* Refused in discover, where the header is read: no unlocking. */
		g_assert_nonnull (strstr (out->str, "State: checking\n"));
		g_assert_nonnull (strstr (out->str, "Completed: failed: "));
		g_assert_nonnull (strstr (out->str, "(NotABundle)"));
	}
	g_subprocess_wait (watch, NULL, NULL);
	g_assert_true (g_subprocess_get_if_exited (watch));
	g_assert_cmpint (g_subprocess_get_exit_status (watch), ==, 1);
}

/* Not root: the status is anyone's, every call is refused by the bus policy, exit 4. */
static void
test_not_root (Fixture *f, gconstpointer data)
{
	g_autofree gchar *bundle = g_build_filename (f->tmpdir, "three.bundle", NULL);
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	const gchar *const commands[][3] = {
		{ "cancel", NULL, NULL },     { "mark-good", NULL, NULL },
		{ "apply", bundle, NULL },    { "inspect", bundle, NULL },
		{ "watch", "--agent", NULL },
	};
	g_auto (Run) status = { 0 };
	g_auto (Run) root_cancel = { 0 };
	g_auto (Run) after = { 0 };
	JsonObject *o;

	/* A bundle nobody may read, as on a stick. */
	g_assert_true (g_file_get_contents (luks->three, &contents, &len, NULL));
	g_assert_true (g_file_set_contents (bundle, contents, (gssize) len, NULL));
	g_assert_cmpint (chmod (bundle, 0644), ==, 0);
	start_daemon (f, NULL, NULL);
	{
		const gchar *const args[] = { "status", "--json", NULL };
		g_autoptr (GSubprocess) proc = spawn_ctl_as (f->address, TRUE, args);

		finish_run (proc, &status);
	}
	g_assert_cmpint (status.exit_status, ==, 0);
	g_assert_cmpstr (string_member (last_object (&status), "state"), ==, "idle");
	for (gsize i = 0; i < G_N_ELEMENTS (commands); i++) {
		const gchar *const args[] = { commands[i][0], "--json", commands[i][1], NULL };
		const gchar *const text_args[] = { commands[i][0], commands[i][1], NULL };
		g_autoptr (GSubprocess) proc = spawn_ctl_as (f->address, TRUE, args);
		g_autoptr (GSubprocess) text_proc = spawn_ctl_as (f->address, TRUE, text_args);
		g_auto (Run) r = { 0 };
		g_auto (Run) text = { 0 };

		g_test_message ("%s", commands[i][0]);
		finish_run (proc, &r);
		g_assert_cmpint (r.exit_status, ==, 4);
		o = last_object (&r);
		g_assert_cmpstr (string_member (o, "error"), ==,
				 "org.freedesktop.DBus.Error.AccessDenied");
		g_assert_nonnull (strstr (string_member (o, "hint"), "as root"));
		finish_run (text_proc, &text);
		g_assert_cmpint (text.exit_status, ==, 4);
		g_assert_nonnull (strstr (text.err, "permission denied"));
		g_assert_nonnull (strstr (text.err, "run this command as root"));
	}
	/* Root is let through by the same policy: the daemon's own answer. */
	{
		const gchar *const args[] = { "cancel", "--json", NULL };
		g_autoptr (GSubprocess) proc = spawn_ctl_as (f->address, FALSE, args);

		finish_run (proc, &root_cancel);
	}
	g_assert_cmpint (root_cancel.exit_status, ==, 1);
	g_assert_cmpstr (string_member (last_object (&root_cancel), "error"), ==, "NotRunning");
	/* Nothing happened. */
	{
		const gchar *const args[] = { "status", "--json", NULL };
		g_autoptr (GSubprocess) proc = spawn_ctl_as (f->address, FALSE, args);

		finish_run (proc, &after);
	}
	o = last_object (&after);
	g_assert_cmpstr (string_member (o, "state"), ==, "idle");
	g_assert_null (string_member (o, "agent"));
	g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "last_error")));
}

/* No daemon on the bus (and none activatable): exit 3, and what to do. */
static void
test_not_running (Fixture *f, gconstpointer data)
{
	const gchar *const commands[][3] = {
		{ "status", NULL, NULL },         { "cancel", NULL, NULL },
		{ "mark-good", NULL, NULL },      { "watch", NULL, NULL },
		{ "inspect", luks->three, NULL }, { "apply", luks->three, NULL },
	};

	g_assert_false (name_has_owner (f->conn));
	for (gsize i = 0; i < G_N_ELEMENTS (commands); i++) {
		g_auto (Run) r = { 0 };
		g_auto (Run) json = { 0 };
		const gchar *const with_json[] = { commands[i][0], "--json", commands[i][1], NULL };
		g_autoptr (GSubprocess) proc = NULL;
		JsonObject *o;

		g_test_message ("%s", commands[i][0]);
		if (commands[i][1] != NULL)
			CTL (&r, commands[i][0], commands[i][1]);
		else
			CTL (&r, commands[i][0]);
		g_assert_cmpint (r.exit_status, ==, 3);
		g_assert_nonnull (strstr (r.err, "mediaupd is not reachable"));
		g_assert_nonnull (strstr (r.err, "systemctl start mediaupd"));
		proc = spawn_ctl_on (g_test_dbus_get_bus_address (test_bus), with_json);
		finish_run (proc, &json);
		g_assert_cmpint (json.exit_status, ==, 3);
		o = last_object (&json);
		g_assert_false (json_object_get_boolean_member (o, "success"));
		g_assert_cmpstr (string_member (o, "error"), ==,
				 "org.freedesktop.DBus.Error.ServiceUnknown");
		g_assert_nonnull (strstr (string_member (o, "hint"), "systemctl start mediaupd"));
	}
}

/* No bus at all: exit 3, and a hint about the bus, not about the daemon. */
static void
test_no_bus (Fixture *f, gconstpointer data)
{
	g_autofree gchar *address = g_strdup_printf ("unix:path=%s/no-bus", f->tmpdir);
	const gchar *const args[] = { "status", NULL };
	const gchar *const json_args[] = { "status", "--json", NULL };
	g_autoptr (GSubprocess) proc = spawn_ctl_on (address, args);
	g_autoptr (GSubprocess) json_proc = spawn_ctl_on (address, json_args);
	g_auto (Run) r = { 0 };
	g_auto (Run) json = { 0 };

	finish_run (proc, &r);
	g_assert_cmpint (r.exit_status, ==, 3);
	g_assert_nonnull (strstr (r.err, "cannot connect to the system bus"));
	g_assert_nonnull (strstr (r.err, "systemctl status dbus"));
	finish_run (json_proc, &json);
	g_assert_cmpint (json.exit_status, ==, 3);
	g_assert_cmpstr (string_member (last_object (&json), "error"), ==,
			 "org.freedesktop.DBus.Error.NoServer");
}

/* Bad command lines: exit 2, before any bus. */
static void
test_usage (Fixture *f, gconstpointer data)
{
	const gchar *const cases[][4] = {
		{ "frobnicate", NULL, NULL, NULL },
		{ "apply", NULL, NULL, NULL },
		{ "apply", "a.enc", "b.enc", NULL },
		{ "apply", "--config", "x.conf", "a.enc" },
		{ "apply", "--local", "a.enc", "b.enc" },
		{ "inspect", NULL, NULL, NULL },
		{ "status", "extra", NULL, NULL },
		{ "watch", "--bogus", NULL, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_auto (Run) r = { 0 };
		g_autoptr (GSubprocess) proc = NULL;
		const gchar *args[5] = { 0 };

		for (gsize j = 0; j < 4 && cases[i][j] != NULL; j++)
			args[j] = cases[i][j];
		proc = spawn_ctl_on (g_test_dbus_get_bus_address (test_bus), args);
		finish_run (proc, &r);
		g_assert_cmpint (r.exit_status, ==, 2);
		g_assert_nonnull (strstr (r.err, "Usage: mediaupdctl"));
	}
	{
		g_auto (Run) help = { 0 };

		CTL (&help, "--help");
		g_assert_cmpint (help.exit_status, ==, 0);
		g_assert_nonnull (strstr (help.out, "3  the system bus or the mediaupd daemon"));
	}
}

int
main (int argc, char **argv)
{
	int ret;

	luks = mu_test_init_as_root (&argc, &argv, "the daemon's workers need root");
	if (luks == NULL)
		return g_test_run ();

#define ADD(path, func)                                                                            \
	g_test_add ("/ctl-dbus/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
	ADD ("status", test_status);
	ADD ("inspect", test_inspect);
	ADD ("refused-files", test_refused_files);
	ADD ("apply-not-a-bundle", test_apply_not_a_bundle);
	ADD ("apply-interrupted", test_apply_interrupted);
	ADD ("cancel-idle", test_cancel_idle);
	ADD ("watch-agent", test_watch_agent);
	ADD ("watch-exit-on-completed", test_watch_exit_on_completed);
	ADD ("not-running", test_not_running);
	g_test_add ("/ctl-dbus/not-root", Fixture, NULL, fixture_set_up_policy, test_not_root,
		    fixture_tear_down);
	ADD ("no-bus", test_no_bus);
	ADD ("usage", test_usage);
	ret = mu_test_run_on_bus (&test_bus);
	mu_luks_fixtures_free (luks);
	return ret;
}
