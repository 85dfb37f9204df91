/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The short D-Bus commands of mediaupdctl: status, inspect, mark-good, cancel. Each one
 * call or property read, its answer printed for people or as one JSON line.
 */
#include "config.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "mu-ctl.h"
#include "mu-escape.h"
#include "mu-json.h"

/* A header read may wait for a slow stick, but never for ever. */
#define INSPECT_TIMEOUT_MS (120 * 1000)

static const gchar status_description[] =
	"Shows what the daemon is doing (State, and Progress during an install), the booted\n"
	"and the pending version, the last install's error, the reboot policy, the agent\n"
	"registered and the media waiting. Anyone may run it.\n\n" MU_CTL_EXIT_HELP;

int
mu_ctl_cmd_status (int argc, char **argv)
{
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new ("- the daemon's state");
	g_autoptr (MuDBusManager1) proxy = NULL;
	g_autofree gchar *text = NULL;
	GVariant *progress;
	GVariant *last_error;
	GVariant *boot_counter;
	GVariant *rolled_back;
	MuCtlStatus status = { 0 };
	MuCtlExit exit_status = MU_CTL_EXIT_OK;
	MuCtlOut out;

	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_description (ctx, status_description);
	if (!mu_ctl_parse_options (ctx, &argc, &argv, 0, "mediaupdctl status [--json]"))
		return MU_CTL_EXIT_USAGE;
	mu_ctl_out_init (&out, json);
	proxy = mu_ctl_connect (&out, &exit_status);
	if (proxy == NULL)
		return exit_status;

	status.state = mu_dbus_manager1_get_state (proxy);
	progress = mu_dbus_manager1_get_progress (proxy);
	if (progress != NULL && g_variant_is_of_type (progress, G_VARIANT_TYPE ("(sutt)")))
		g_variant_get (progress, "(&sutt)", &status.phase, &status.percent,
			       &status.bytes_done, &status.bytes_total);
	last_error = mu_dbus_manager1_get_last_error (proxy);
	if (last_error != NULL && g_variant_is_of_type (last_error, G_VARIANT_TYPE ("(ss)")))
		g_variant_get (last_error, "(&s&s)", &status.last_error_name,
			       &status.last_error_message);
	status.current_version = mu_dbus_manager1_get_current_version (proxy);
	status.current_commit = mu_dbus_manager1_get_current_commit (proxy);
	status.pending_version = mu_dbus_manager1_get_pending_version (proxy);
	status.pending_commit = mu_dbus_manager1_get_pending_commit (proxy);
	status.reboot_policy = mu_dbus_manager1_get_reboot_policy (proxy);
	status.agent = mu_dbus_manager1_get_agent (proxy);
	status.queued_media = mu_dbus_manager1_get_queued_media (proxy);
	status.boot_backend = mu_dbus_manager1_get_boot_backend (proxy);
	boot_counter = mu_dbus_manager1_get_boot_counter (proxy);
	if (boot_counter != NULL)
		g_variant_get (boot_counter, "(buu)", &status.boot_armed, &status.boot_count,
			       &status.boot_limit);
	status.last_good_commit = mu_dbus_manager1_get_last_good_commit (proxy);
	rolled_back = mu_dbus_manager1_get_rolled_back_from (proxy);
	if (rolled_back != NULL)
		g_variant_get (rolled_back, "(&s&s)", &status.rolled_back_commit,
			       &status.rolled_back_version);
	status.blacklist = mu_dbus_manager1_get_blacklist (proxy);

	if (json) {
		text = mu_ctl_status_to_json (&status);
		mu_ctl_out_line (&out, text);
	} else {
		text = mu_ctl_status_to_text (&status);
		mu_ctl_out_printf (&out, "%s", text);
	}
	return MU_CTL_EXIT_OK;
}

/*
 * Calls @method with the bundle at @path as the descriptor argument (its only argument, or
 * the first one before @options). NULL on failure, reported.
 */
static GVariant *
call_with_bundle (MuDBusManager1 *proxy, MuCtlOut *out, const gchar *method, const gchar *path,
		  int timeout_ms, const gchar *what, MuCtlExit *ret_exit)
{
	g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GError) error = NULL;
	int fd;

	fd = mu_ctl_open_bundle (path, &error);
	if (fd < 0) {
		*ret_exit = mu_ctl_report_error (out, what, error);
		return NULL;
	}
	if (g_unix_fd_list_append (fds, fd, &error) < 0) {
		(void) close (fd);
		*ret_exit = mu_ctl_report_error (out, what, error);
		return NULL;
	}
	/* The list holds a duplicate. */
	(void) close (fd);
	reply = g_dbus_proxy_call_with_unix_fd_list_sync (G_DBUS_PROXY (proxy), method,
							  g_variant_new ("(h)", 0),
							  G_DBUS_CALL_FLAGS_NONE, timeout_ms, fds,
							  NULL, NULL, &error);
	if (reply == NULL) {
		*ret_exit = mu_ctl_report_error (out, what, error);
		return NULL;
	}
	return g_steal_pointer (&reply);
}

static const gchar *const inspect_labels[][2] = {
	{ "format", "Format" },
	{ "label", "Label" },
	{ "subsystem", "Subsystem" },
	{ "size", "Size" },
	{ "keyslots", "Keyslots" },
	{ "key_ids", "Key ids" },
	{ "device_key_ids", "Keys here" },
};

/* A value of the inspect dictionary for people: strings escaped, lists joined. */
static gchar *
inspect_value_text (const gchar *key, GVariant *value)
{
	if (g_str_equal (key, "size") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64)) {
		g_autofree gchar *size = mu_ctl_format_bytes (g_variant_get_uint64 (value));

		return g_strdup_printf ("%s (%" G_GUINT64_FORMAT " bytes)", size,
					g_variant_get_uint64 (value));
	}
	if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
		return mu_escape_untrusted (g_variant_get_string (value, NULL));
	if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY) ||
	    g_variant_is_of_type (value, G_VARIANT_TYPE ("ai"))) {
		g_autoptr (GString) text = g_string_new (NULL);
		gsize n = g_variant_n_children (value);

		for (gsize i = 0; i < n; i++) {
			g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

			if (i > 0)
				g_string_append (text, ", ");
			if (g_variant_is_of_type (child, G_VARIANT_TYPE_STRING)) {
				g_autofree gchar *s = mu_escape_untrusted (
					g_variant_get_string (child, NULL));

				g_string_append (text, s);
			} else {
				g_string_append_printf (text, "%d", g_variant_get_int32 (child));
			}
		}
		return n == 0 ? g_strdup ("none") : g_string_free (g_steal_pointer (&text), FALSE);
	}
	{
		g_autofree gchar *printed = g_variant_print (value, FALSE);

		return mu_escape_untrusted (printed);
	}
}

static void
print_inspect_text (MuCtlOut *out, const gchar *path, GVariant *info)
{
	g_autoptr (GVariantDict) dict = g_variant_dict_new (info);
	g_autofree gchar *file = mu_escape_untrusted (path);
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	mu_ctl_out_printf (out, "%-11s %s\n", "File:", file);
	for (gsize i = 0; i < G_N_ELEMENTS (inspect_labels); i++) {
		const gchar *key_i = inspect_labels[i][0];
		g_autoptr (GVariant) v = g_variant_dict_lookup_value (dict, key_i, NULL);
		g_autofree gchar *label = g_strconcat (inspect_labels[i][1], ":", NULL);
		g_autofree gchar *text = NULL;

		if (v == NULL)
			continue;
		text = inspect_value_text (key_i, v);
		mu_ctl_out_printf (out, "%-11s %s\n", label, text);
	}
	/* What a newer daemon says that this client has no label for. */
	g_variant_iter_init (&iter, info);
	while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
		g_autofree gchar *name = NULL;
		g_autofree gchar *text = NULL;
		gboolean known = FALSE;

		for (gsize i = 0; i < G_N_ELEMENTS (inspect_labels); i++)
			known = known || g_str_equal (key, inspect_labels[i][0]);
		if (known)
			continue;
		name = mu_escape_untrusted (key);
		text = inspect_value_text (key, value);
		mu_ctl_out_printf (out, "%s: %s\n", name, text);
	}
}

static const gchar inspect_description[] =
	"Asks the daemon what the LUKS2 header of the bundle FILE says: its format, label,\n"
	"keyslots, the key ids of its tokens and which of them this device holds. No key is\n"
	"tried and nothing is mounted. FILE is opened here and passed to the daemon as a\n"
	"descriptor; it must be a regular file (not a symbolic link).\n\n" MU_CTL_EXIT_HELP;

int
mu_ctl_cmd_inspect (int argc, char **argv)
{
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE - what a bundle says");
	g_autoptr (MuDBusManager1) proxy = NULL;
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GVariant) info = NULL;
	MuCtlExit exit_status = MU_CTL_EXIT_OK;
	MuCtlOut out;

	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_description (ctx, inspect_description);
	if (!mu_ctl_parse_options (ctx, &argc, &argv, 1, "mediaupdctl inspect FILE [--json]"))
		return MU_CTL_EXIT_USAGE;
	mu_ctl_out_init (&out, json);
	proxy = mu_ctl_connect (&out, &exit_status);
	if (proxy == NULL)
		return exit_status;
	reply = call_with_bundle (proxy, &out, "InspectBundle", argv[1], INSPECT_TIMEOUT_MS,
				  "Inspection failed", &exit_status);
	if (reply == NULL)
		return exit_status;
	info = g_variant_get_child_value (reply, 0);
	if (json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();
		g_autofree gchar *line = NULL;
		GVariantIter iter;
		const gchar *key;
		GVariant *value;

		json_builder_begin_object (b);
		mu_json_builder_add_text_member (b, "file", argv[1]);
		g_variant_iter_init (&iter, info);
		while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
			g_autofree gchar *name = mu_escape_untrusted (key);

			json_builder_set_member_name (b, name);
			mu_json_builder_add_variant (b, value);
		}
		json_builder_end_object (b);
		line = mu_json_builder_to_line (b);
		mu_ctl_out_line (&out, line);
	} else {
		print_inspect_text (&out, argv[1], info);
	}
	return MU_CTL_EXIT_OK;
}

/* A method without results; @done is what to say after it. With @arg_usage, it takes one
 * string: the optional argument of the command ("" when not given). */
static int
simple_call (int argc, char **argv, const gchar *method, const gchar *arg_usage,
	     const gchar *summary, const gchar *description, const gchar *failed, const gchar *done)
{
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the result as one JSON line",
		  NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new (summary);
	g_autofree gchar *usage = g_strdup_printf ("mediaupdctl %s [--json]%s%s", argv[0],
						   arg_usage != NULL ? " " : "",
						   arg_usage != NULL ? arg_usage : "");
	GVariant *params = NULL;
	g_autoptr (MuDBusManager1) proxy = NULL;
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GError) error = NULL;
	MuCtlExit exit_status = MU_CTL_EXIT_OK;
	MuCtlOut out;

	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_description (ctx, description);
	if (!mu_ctl_parse_options (ctx, &argc, &argv, arg_usage != NULL ? -1 : 0, usage))
		return MU_CTL_EXIT_USAGE;
	if (arg_usage != NULL && argc > 2) {
		g_printerr ("Too many arguments.\nUsage: %s\n", usage);
		return MU_CTL_EXIT_USAGE;
	}
	if (arg_usage != NULL)
		params = g_variant_new ("(s)", argc == 2 ? argv[1] : "");
	mu_ctl_out_init (&out, json);
	proxy = mu_ctl_connect (&out, &exit_status);
	if (proxy == NULL) {
		if (params != NULL)
			g_variant_unref (g_variant_ref_sink (params));
		return exit_status;
	}
	reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (proxy), method, params,
					G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (reply == NULL)
		return mu_ctl_report_error (&out, failed, error);
	if (json) {
		g_autofree gchar *line = mu_ctl_json_result (NULL, NULL, NULL, NULL);

		mu_ctl_out_line (&out, line);
	} else {
		mu_ctl_out_line (&out, done);
	}
	return MU_CTL_EXIT_OK;
}

int
mu_ctl_cmd_mark_good (int argc, char **argv)
{
	return simple_call (
		argc, argv, "MarkBootSuccessful", NULL, "- the booted version works",
		"Tells the daemon that the booted version works: the boot counter is\n"
		"disarmed and it is recorded as the last good one. As root.\n\n" MU_CTL_EXIT_HELP,
		"Marking the booted version as good failed",
		"The booted version is marked as good.");
}

int
mu_ctl_cmd_cancel (int argc, char **argv)
{
	return simple_call (argc, argv, "Cancel", NULL, "- stop the running install",
			    "Asks the daemon to stop the running install at its next safe point\n"
			    "(never during deploy); the install then ends with Cancelled and the\n"
			    "device as it was. NotRunning when nothing is being installed.\n"
			    "As root.\n\n" MU_CTL_EXIT_HELP,
			    "Cancel failed",
			    "Asked the daemon to stop the install at its next safe point.");
}

int
mu_ctl_cmd_clear_blacklist (int argc, char **argv)
{
	return simple_call (
		argc, argv, "ClearBlacklist", "[COMMIT]",
		"[COMMIT] - accept a version again that failed to boot",
		"A version that failed to boot and was rolled back is on the blacklist: a\n"
		"bundle carrying it is refused (Blacklisted). This removes COMMIT from the\n"
		"list ('mediaupdctl status' shows it), or every commit when none is given.\n"
		"Only when the cause of the failed boot is known to be fixed. As root.\n\n" MU_CTL_EXIT_HELP,
		"Clearing the blacklist failed", "The blacklist was cleared.");
}
