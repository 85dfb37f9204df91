/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `mediaupdctl apply FILE`: the daemon installs the bundle, given by descriptor, while this
 * follows its Progress; Ctrl-C asks the daemon to cancel. `--local` goes to mu-ctl-local.c.
 */
#include "config.h"

#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include "mu-config.h"
#include "mu-ctl.h"
#include "mu-escape.h"

typedef struct {
	MuCtlOut out;
	MuDBusManager1 *proxy;
	GMainLoop *loop;
	MuCtlProgressView view;
	GError *error; /* of ApplyBundle */
	gboolean finished;
	gboolean cancelling;
} ApplyRun;

static void
on_progress (GObject *object, GParamSpec *pspec, gpointer user_data)
{
	ApplyRun *run = user_data;

	if (run->finished)
		return;
	mu_ctl_progress_view_update (&run->view, mu_dbus_manager1_get_progress (run->proxy));
}

static void
on_state (GObject *object, GParamSpec *pspec, gpointer user_data)
{
	ApplyRun *run = user_data;
	g_autofree gchar *line = NULL;

	if (run->finished || !run->out.json)
		return;
	line = mu_ctl_json_state (mu_dbus_manager1_get_state (run->proxy));
	mu_ctl_out_line (&run->out, line);
}

static void
on_apply_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
	ApplyRun *run = user_data;
	g_autoptr (GVariant) reply = NULL;

	reply = g_dbus_proxy_call_with_unix_fd_list_finish (G_DBUS_PROXY (source), NULL, result,
							    &run->error);
	run->finished = TRUE;
	g_main_loop_quit (run->loop);
}

static void
on_cancel_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
	ApplyRun *run = user_data;
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GError) error = NULL;

	reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
	/* NotRunning: the install ended meanwhile; its own result tells how. */
	if (reply == NULL && !run->finished) {
		g_autoptr (GError) copy = g_error_copy (error);

		g_dbus_error_strip_remote_error (copy);
		mu_ctl_progress_view_break (&run->view);
		g_printerr ("Could not cancel: %s\n", copy->message);
	}
}

/* SIGINT, SIGTERM, SIGHUP: the daemon stops at its next safe point and undoes the rest. */
static gboolean
on_signal (gpointer user_data)
{
	ApplyRun *run = user_data;

	if (run->cancelling || run->finished)
		return G_SOURCE_CONTINUE;
	run->cancelling = TRUE;
	mu_ctl_progress_view_break (&run->view);
	if (!run->out.json)
		g_printerr ("Stopping the update at the next safe point...\n");
	g_dbus_proxy_call (G_DBUS_PROXY (run->proxy), "Cancel", NULL, G_DBUS_CALL_FLAGS_NONE, -1,
			   NULL, on_cancel_done, run);
	return G_SOURCE_CONTINUE;
}

/* A property read from the daemon now, not from the proxy's cache: its change may still
 * be on the way when the method's reply has come. "" when it cannot be read. */
static gchar *
read_property (MuDBusManager1 *proxy, const gchar *name)
{
	GDBusProxy *p = G_DBUS_PROXY (proxy);
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GVariant) value = NULL;

	reply = g_dbus_connection_call_sync (g_dbus_proxy_get_connection (p),
					     g_dbus_proxy_get_name (p),
					     g_dbus_proxy_get_object_path (p),
					     "org.freedesktop.DBus.Properties", "Get",
					     g_variant_new ("(ss)",
							    g_dbus_proxy_get_interface_name (p),
							    name),
					     G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1,
					     NULL, NULL);
	if (reply == NULL)
		return g_strdup ("");
	g_variant_get (reply, "(v)", &value);
	if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
		return g_strdup ("");
	return g_variant_dup_string (value, NULL);
}

static MuCtlExit
print_outcome (ApplyRun *run)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *version = NULL;
	g_autofree gchar *commit = NULL;

	mu_ctl_progress_view_break (&run->view);
	if (run->error != NULL) {
		return mu_ctl_report_error (&run->out, "Update failed", run->error);
	}
	version = read_property (run->proxy, "PendingVersion");
	commit = read_property (run->proxy, "PendingCommit");
	if (run->out.json) {
		g_autofree gchar *line = mu_ctl_json_result (NULL, NULL, version, commit);

		mu_ctl_out_line (&run->out, line);
		return MU_CTL_EXIT_OK;
	}
	mu_ctl_out_printf (&run->out,
			   "Installed version %s (commit %s).\nIt starts at the next boot.\n",
			   *version != '\0' ? mu_escape_untrusted_in (pool, version) : "(none)",
			   *commit != '\0' ? mu_escape_untrusted_in (pool, commit) : "(unknown)");
	return MU_CTL_EXIT_OK;
}

static MuCtlExit
apply_over_dbus (const gchar *path, gboolean json)
{
	g_autoptr (MuDBusManager1) proxy = NULL;
	g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
	g_autoptr (GError) error = NULL;
	g_autoptr (GMainLoop) loop = NULL;
	const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	guint sources[G_N_ELEMENTS (signals)];
	ApplyRun run = { 0 };
	MuCtlExit exit_status = MU_CTL_EXIT_OK;
	gulong handlers[2];
	GVariant *options;
	int fd;

	mu_ctl_out_init (&run.out, json);
	/* Opened here, before the daemon is asked: the daemon never opens a client's path. */
	fd = mu_ctl_open_bundle (path, &error);
	if (fd < 0)
		return mu_ctl_report_error (&run.out, "Update failed", error);
	if (g_unix_fd_list_append (fds, fd, &error) < 0) {
		(void) close (fd);
		return mu_ctl_report_error (&run.out, "Update failed", error);
	}
	(void) close (fd);
	proxy = mu_ctl_connect (&run.out, &exit_status);
	if (proxy == NULL)
		return exit_status;

	loop = g_main_loop_new (NULL, FALSE);
	run.proxy = proxy;
	run.loop = loop;
	mu_ctl_progress_view_init (&run.view, &run.out, TRUE);
	handlers[0] = g_signal_connect (proxy, "notify::progress", G_CALLBACK (on_progress), &run);
	handlers[1] = g_signal_connect (proxy, "notify::state", G_CALLBACK (on_state), &run);
	for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
		sources[i] = g_unix_signal_add (signals[i], on_signal, &run);
	/* An install takes as long as it takes: no timeout. */
	options = g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
	g_dbus_proxy_call_with_unix_fd_list (G_DBUS_PROXY (proxy), "ApplyBundle",
					     g_variant_new ("(h@a{sv})", 0, options),
					     G_DBUS_CALL_FLAGS_NONE, G_MAXINT, fds, NULL,
					     on_apply_done, &run);
	g_main_loop_run (loop);
	for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
		g_source_remove (sources[i]);
	for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
		g_signal_handler_disconnect (proxy, handlers[i]);
	exit_status = print_outcome (&run);
	mu_ctl_progress_view_clear (&run.view);
	g_clear_error (&run.error);
	return exit_status;
}

static const gchar apply_description[] =
	"Without --local, the daemon installs the bundle FILE: FILE is opened here (it must be a\n"
	"regular file, not a symbolic link) and passed to the daemon as a descriptor. Progress\n"
	"is shown as a bar on a terminal, as a line per phase and per 10 % otherwise. Ctrl-C\n"
	"asks the daemon to stop at the next safe point; the device is then left as it was.\n"
	"The daemon does not reboot for this command: the update starts at the next boot.\n"
	"\n"
	"With --local FILE the install runs in this process, without the daemon (as root):\n"
	"discover, unlock, verify, check, apply, deploy, with the configuration of --config.\n"
	"\n"
	"--json prints progress and the result as JSON lines; the last line is\n"
	"{\"event\":\"result\",...} with the error's name in \"error\".\n\n" MU_CTL_EXIT_HELP;

int
mu_ctl_cmd_apply (int argc, char **argv)
{
	g_autofree gchar *local = NULL;
	g_autofree gchar *config_path = NULL;
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "local", 0, 0, G_OPTION_ARG_FILENAME, &local,
		  "Install this bundle file in-process, without the daemon (as root)", "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json,
		  "Print progress and the result as JSON lines", NULL },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
		  "With --local: read this configuration instead of " MU_CONFIG_DEFAULT_PATH,
		  "FILE" },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = NULL;
	const gchar *usage = "mediaupdctl apply FILE [--json]\n"
			     "       mediaupdctl apply --local FILE [--json] [--config FILE]";

	ctx = g_option_context_new ("FILE | --local FILE - install a bundle");
	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_description (ctx, apply_description);
	if (!mu_ctl_parse_options (ctx, &argc, &argv, -1, usage))
		return MU_CTL_EXIT_USAGE;
	/* argv[0] is "apply"; FILE, or --local FILE. */
	if (argc != (local != NULL ? 1 : 2)) {
		g_printerr ("%s\nUsage: %s\n",
			    local != NULL ? "Give the bundle once: --local FILE or FILE, not both."
			    : argc < 2    ? "Give the bundle file: mediaupdctl apply FILE."
					  : "Too many arguments.",
			    usage);
		return MU_CTL_EXIT_USAGE;
	}
	if (local != NULL)
		return mu_ctl_apply_local (local, json, config_path);
	if (config_path != NULL) {
		g_printerr ("--config is for --local: the daemon reads its own configuration.\n"
			    "Usage: %s\n",
			    usage);
		return MU_CTL_EXIT_USAGE;
	}
	return apply_over_dbus (argv[1], json);
}
