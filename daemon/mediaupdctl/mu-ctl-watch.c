/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `mediaupdctl watch`: a line per change of the daemon's State and Progress and per
 * BundleFound, BundleSkipped and Completed signal, until interrupted. With --agent it is
 * the daemon's agent meanwhile: the daemon then never reboots by itself.
 */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>

#include "mu-ctl.h"
#include "mu-escape.h"

typedef struct {
	MuCtlOut out;
	MuDBusManager1 *proxy;
	GMainLoop *loop;
	MuCtlProgressView view;
	gboolean agent;
	gboolean exit_on_completed;
	gchar *last_state;
	MuCtlExit exit_status;
} Watch;

static void
print_line (Watch *w, const gchar *line)
{
	mu_ctl_progress_view_break (&w->view);
	mu_ctl_out_line (&w->out, line);
}

static void
on_state (GObject *object, GParamSpec *pspec, gpointer user_data)
{
	Watch *w = user_data;
	const gchar *state = mu_dbus_manager1_get_state (w->proxy);
	g_autofree gchar *line = NULL;

	if (state == NULL || g_strcmp0 (state, w->last_state) == 0)
		return;
	g_free (w->last_state);
	w->last_state = g_strdup (state);
	if (w->out.json) {
		line = mu_ctl_json_state (state);
	} else {
		g_autofree gchar *escaped = mu_escape_untrusted (state);

		line = g_strdup_printf ("State: %s", escaped);
	}
	print_line (w, line);
}

static void
on_progress (GObject *object, GParamSpec *pspec, gpointer user_data)
{
	Watch *w = user_data;

	mu_ctl_progress_view_update (&w->view, mu_dbus_manager1_get_progress (w->proxy));
}

static void
on_bundle_found (MuDBusManager1 *proxy, const gchar *medium, const gchar *name, guint64 size,
		 gpointer user_data)
{
	Watch *w = user_data;
	g_autofree gchar *line = NULL;

	if (w->out.json) {
		line = mu_ctl_json_bundle_found (medium, name, size);
	} else {
		g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
		g_autofree gchar *bytes = mu_ctl_format_bytes (size);

		line = g_strdup_printf ("Bundle found: '%s' (%s) on %s",
					mu_escape_untrusted_in (pool, name), bytes,
					mu_escape_untrusted_in (pool, medium));
	}
	print_line (w, line);
}

static void
on_bundle_skipped (MuDBusManager1 *proxy, const gchar *medium, const gchar *name,
		   const gchar *error_name, const gchar *message, gpointer user_data)
{
	Watch *w = user_data;
	g_autofree gchar *line = NULL;

	if (w->out.json) {
		line = mu_ctl_json_bundle_skipped (medium, name, error_name, message);
	} else {
		g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

		const gchar *short_name = mu_ctl_short_error_name (error_name);

		line = g_strdup_printf ("Bundle skipped: '%s' on %s: %s (%s)",
					mu_escape_untrusted_in (pool, name),
					mu_escape_untrusted_in (pool, medium),
					mu_escape_untrusted_in (pool, message),
					mu_escape_untrusted_in (pool, short_name));
	}
	print_line (w, line);
}

static void
on_completed (MuDBusManager1 *proxy, gboolean success, const gchar *error_name,
	      const gchar *message, gpointer user_data)
{
	Watch *w = user_data;
	g_autofree gchar *line = NULL;

	/* The signal's error name decides, not its flag alone: they should agree. */
	if (success && error_name != NULL && *error_name != '\0')
		success = FALSE;
	if (w->out.json) {
		line = mu_ctl_json_completed (success ? NULL : error_name, message);
	} else if (success) {
		line = g_strdup ("Completed: the update is installed and starts at the next boot");
	} else {
		g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

		const gchar *short_name = mu_ctl_short_error_name (error_name);

		line = g_strdup_printf ("Completed: failed: %s (%s)",
					mu_escape_untrusted_in (pool, message),
					mu_escape_untrusted_in (pool, short_name));
	}
	print_line (w, line);
	if (w->exit_on_completed) {
		w->exit_status = success ? MU_CTL_EXIT_OK : MU_CTL_EXIT_FAILED;
		g_main_loop_quit (w->loop);
	}
}

static void
on_name_owner (GObject *object, GParamSpec *pspec, gpointer user_data)
{
	Watch *w = user_data;
	g_autofree gchar *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (w->proxy));
	g_autofree gchar *line = NULL;

	if (w->out.json) {
		line = mu_ctl_json_daemon (owner != NULL);
	} else {
		line = g_strdup (owner != NULL ? "The daemon is back on the bus."
					       : "The daemon left the bus.");
	}
	print_line (w, line);
	/* The registration went with the daemon: whoever runs this agent must know. */
	if (owner == NULL && w->agent) {
		g_printerr ("The daemon stopped: this is no longer its agent. %s.\n",
			    mu_ctl_error_hint ("org.freedesktop.DBus.Error.NameHasNoOwner"));
		w->exit_status = MU_CTL_EXIT_UNREACHABLE;
		g_main_loop_quit (w->loop);
	}
}

static gboolean
on_signal (gpointer user_data)
{
	Watch *w = user_data;

	g_main_loop_quit (w->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
call_agent_method (Watch *w, const gchar *method, MuCtlExit *ret_exit)
{
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree gchar *line = NULL;
	gboolean registering = g_str_equal (method, "RegisterAgent");

	reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (w->proxy), method, NULL,
					G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (reply == NULL) {
		mu_ctl_progress_view_break (&w->view);
		*ret_exit = mu_ctl_report_error (&w->out,
						 registering ? "Registering as the agent failed"
							     : "Unregistering as the agent failed",
						 error);
		return FALSE;
	}
	if (w->out.json) {
		GDBusConnection *bus = g_dbus_proxy_get_connection (G_DBUS_PROXY (w->proxy));

		line = mu_ctl_json_agent (registering, g_dbus_connection_get_unique_name (bus));
	} else {
		line = g_strdup (registering ? "Registered as the agent: the daemon does not "
					       "reboot by itself while this runs."
					     : "Unregistered as the agent.");
	}
	print_line (w, line);
	return TRUE;
}

static const gchar watch_description[] =
	"Prints a line for each change of the daemon's state and progress, for each bundle\n"
	"found or skipped on a medium, and for each install that completes, until Ctrl-C.\n"
	"\n"
	"--agent also registers this process as the daemon's agent for as long as it runs:\n"
	"the daemon then never reboots by itself after an update, it only signals Completed\n"
	"(as root; Busy if another agent is registered). An integrator's UI does the same\n"
	"over D-Bus. --exit-on-completed ends after the first Completed, with exit status\n"
	"0 if that install succeeded and 1 if not.\n\n" MU_CTL_EXIT_HELP;

int
mu_ctl_cmd_watch (int argc, char **argv)
{
	gboolean json = FALSE;
	gboolean agent = FALSE;
	gboolean exit_on_completed = FALSE;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON lines", NULL },
		{ "agent", 0, 0, G_OPTION_ARG_NONE, &agent,
		  "Be the daemon's agent while this runs: the daemon does not reboot by itself",
		  NULL },
		{ "exit-on-completed", 0, 0, G_OPTION_ARG_NONE, &exit_on_completed,
		  "End after the first completed install, with its success as exit status", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new ("- follow the daemon");
	g_autoptr (MuDBusManager1) proxy = NULL;
	g_autoptr (GMainLoop) loop = NULL;
	const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	guint sources[G_N_ELEMENTS (signals)];
	Watch w = { 0 };
	MuCtlExit exit_status = MU_CTL_EXIT_OK;

	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_description (ctx, watch_description);
	if (!mu_ctl_parse_options (ctx, &argc, &argv, 0,
				   "mediaupdctl watch [--agent] [--exit-on-completed] [--json]"))
		return MU_CTL_EXIT_USAGE;
	mu_ctl_out_init (&w.out, json);
	proxy = mu_ctl_connect (&w.out, &exit_status);
	if (proxy == NULL)
		return exit_status;

	loop = g_main_loop_new (NULL, FALSE);
	w.proxy = proxy;
	w.loop = loop;
	w.agent = agent;
	w.exit_on_completed = exit_on_completed;
	w.exit_status = MU_CTL_EXIT_OK;
	/* One line per change, on a terminal too: this is a log to read back. */
	mu_ctl_progress_view_init (&w.view, &w.out, FALSE);
	g_signal_connect (proxy, "notify::state", G_CALLBACK (on_state), &w);
	g_signal_connect (proxy, "notify::progress", G_CALLBACK (on_progress), &w);
	g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (on_name_owner), &w);
	g_signal_connect (proxy, "bundle-found", G_CALLBACK (on_bundle_found), &w);
	g_signal_connect (proxy, "bundle-skipped", G_CALLBACK (on_bundle_skipped), &w);
	g_signal_connect (proxy, "completed", G_CALLBACK (on_completed), &w);
	on_state (NULL, NULL, &w);
	if (agent && !call_agent_method (&w, "RegisterAgent", &exit_status)) {
		g_signal_handlers_disconnect_by_data (proxy, &w);
		g_free (w.last_state);
		mu_ctl_progress_view_clear (&w.view);
		return exit_status;
	}
	for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
		sources[i] = g_unix_signal_add (signals[i], on_signal, &w);
	g_main_loop_run (loop);
	for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
		g_source_remove (sources[i]);
	exit_status = w.exit_status;
	/* Not after the daemon left: there is nobody to tell. */
	if (agent && exit_status != MU_CTL_EXIT_UNREACHABLE) {
		MuCtlExit unregister_exit = MU_CTL_EXIT_OK;

		if (!call_agent_method (&w, "UnregisterAgent", &unregister_exit) &&
		    exit_status == MU_CTL_EXIT_OK)
			exit_status = unregister_exit;
	}
	g_signal_handlers_disconnect_by_data (proxy, &w);
	g_free (w.last_state);
	mu_ctl_progress_view_clear (&w.view);
	return exit_status;
}
