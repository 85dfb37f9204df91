/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-ctl-output.h"

#include <string.h>

#include "mu-escape.h"
#include "mu-json.h"

/* The bus's own errors that mean nobody answers for org.mediaupd.Manager1. */
static const gchar *const unreachable_errors[] = {
	"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
	"org.freedesktop.DBus.Error.NoServer",       "org.freedesktop.DBus.Error.NoReply",
	"org.freedesktop.DBus.Error.Disconnected",   "org.freedesktop.DBus.Error.Timeout",
	"org.freedesktop.DBus.Error.TimedOut",       "org.freedesktop.DBus.Error.NoNetwork",
	"org.freedesktop.DBus.Error.AddressInUse",   "org.freedesktop.DBus.Error.BadAddress",
	"org.freedesktop.DBus.Error.FileNotFound",
};

static const gchar *const denied_errors[] = {
	"org.freedesktop.DBus.Error.AccessDenied",
	"org.freedesktop.DBus.Error.AuthFailed",
	"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
};

static gboolean
name_in (const gchar *name, const gchar *const *names, gsize n)
{
	for (gsize i = 0; i < n; i++) {
		if (g_str_equal (name, names[i]))
			return TRUE;
	}
	return FALSE;
}

static gboolean
is_unreachable (const gchar *name)
{
	/* Activation failures: org.freedesktop.DBus.Error.Spawn.ChildExited etc. */
	return name_in (name, unreachable_errors, G_N_ELEMENTS (unreachable_errors)) ||
	       g_str_has_prefix (name, "org.freedesktop.DBus.Error.Spawn.");
}

MuCtlExit
mu_ctl_exit_for_error_name (const gchar *dbus_error_name)
{
	if (dbus_error_name == NULL || *dbus_error_name == '\0')
		return MU_CTL_EXIT_FAILED;
	if (is_unreachable (dbus_error_name))
		return MU_CTL_EXIT_UNREACHABLE;
	if (name_in (dbus_error_name, denied_errors, G_N_ELEMENTS (denied_errors)))
		return MU_CTL_EXIT_DENIED;
	return MU_CTL_EXIT_FAILED;
}

const gchar *
mu_ctl_short_error_name (const gchar *dbus_error_name)
{
	if (dbus_error_name != NULL &&
	    g_str_has_prefix (dbus_error_name, MU_CTL_DBUS_ERROR_PREFIX) &&
	    dbus_error_name[strlen (MU_CTL_DBUS_ERROR_PREFIX)] != '\0')
		return dbus_error_name + strlen (MU_CTL_DBUS_ERROR_PREFIX);
	return dbus_error_name;
}

/* Errors of the bus connection itself, not of the daemon behind it. */
static const gchar *const bus_errors[] = {
	"org.freedesktop.DBus.Error.NoServer",   "org.freedesktop.DBus.Error.Disconnected",
	"org.freedesktop.DBus.Error.BadAddress", "org.freedesktop.DBus.Error.FileNotFound",
	"org.freedesktop.DBus.Error.NoNetwork",  "org.freedesktop.DBus.Error.AddressInUse",
};

const gchar *
mu_ctl_error_hint (const gchar *dbus_error_name)
{
	if (dbus_error_name == NULL)
		return NULL;
	if (name_in (dbus_error_name, bus_errors, G_N_ELEMENTS (bus_errors)))
		return "the system bus is not reachable: check that dbus runs "
		       "('systemctl status dbus') and that DBUS_SYSTEM_BUS_ADDRESS, if set, "
		       "points at it";
	switch (mu_ctl_exit_for_error_name (dbus_error_name)) {
	case MU_CTL_EXIT_UNREACHABLE:
		return "the mediaupd daemon is not running or does not answer: start it with "
		       "'systemctl start mediaupd', and see 'journalctl -u mediaupd' if it does "
		       "not stay up";
	case MU_CTL_EXIT_DENIED:
		return "the bus policy lets only root call mediaupd: run this command as root, "
		       "or check /usr/share/dbus-1/system.d/org.mediaupd.Manager1.conf";
	case MU_CTL_EXIT_OK:
	case MU_CTL_EXIT_FAILED:
	case MU_CTL_EXIT_USAGE:
		break;
	}
	if (g_str_has_prefix (dbus_error_name, "org.freedesktop.DBus.Error.Unknown"))
		return "the running daemon does not offer this call: is it an older version? "
		       "Restart it with 'systemctl restart mediaupd' after an upgrade";
	return NULL;
}

gchar *
mu_ctl_format_bytes (guint64 bytes)
{
	static const gchar *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	guint64 unit = 1024;
	guint64 tenths;
	guint i = 0;

	if (bytes < 1024)
		return g_strdup_printf ("%" G_GUINT64_FORMAT " B", bytes);
	/* The unit whose rounded value stays below 1024.0; in tenths, so no float and no
	 * locale's decimal comma. Divided first: bytes * 10 would overflow near the top. */
	for (;;) {
		tenths = bytes / unit * 10 + ((bytes % unit) * 10 + unit / 2) / unit;
		if (tenths < 10240 || i + 1 == G_N_ELEMENTS (units))
			break;
		unit *= 1024;
		i++;
	}
	return g_strdup_printf ("%" G_GUINT64_FORMAT ".%u %s", tenths / 10, (guint) (tenths % 10),
				units[i]);
}

/* The phase as shown in a bar: escaped, printable ASCII only, at most 12 columns. */
static gchar *
phase_label (const gchar *phase)
{
	gboolean none = phase == NULL || *phase == '\0';
	g_autofree gchar *escaped = mu_escape_untrusted (none ? "waiting" : phase);

	for (gchar *p = escaped; *p != '\0'; p++) {
		if (!g_ascii_isprint (*p))
			*p = '?';
	}
	if (strlen (escaped) > 12)
		escaped[12] = '\0';
	return g_steal_pointer (&escaped);
}

#define BAR_MIN 10
#define BAR_MAX 40

gchar *
mu_ctl_progress_bar (const gchar *phase, guint percent, guint64 bytes_done, guint64 bytes_total,
		     guint width)
{
	g_autofree gchar *label = phase_label (phase);
	g_autofree gchar *bytes = NULL;
	g_autoptr (GString) line = g_string_new (NULL);
	gsize columns;
	gsize fixed;
	gsize bar = 0;

	percent = MIN (percent, 100);
	columns = (width == 0 ? 80 : width) - 1;
	if (bytes_total > 0) {
		g_autofree gchar *done = mu_ctl_format_bytes (bytes_done);
		g_autofree gchar *total = mu_ctl_format_bytes (bytes_total);

		bytes = g_strdup_printf ("  %s / %s", done, total);
	}
	/* "LABEL____ [BAR] 100%BYTES": the label padded to 8, a space, brackets, space. */
	fixed = MAX (strlen (label), 8) + 1 + 2 + 5;
	if (bytes != NULL && fixed + strlen (bytes) + BAR_MIN > columns)
		g_clear_pointer (&bytes, g_free);
	if (bytes != NULL)
		fixed += strlen (bytes);
	if (fixed + BAR_MIN <= columns)
		bar = MIN (columns - fixed, BAR_MAX);

	/* Narrower than "LABEL____  42%": the label unpadded, then cut. */
	if (bar == 0 && MAX (strlen (label), 8) + 1 + 5 > columns) {
		g_string_append_printf (line, "%s %u%%", label, percent);
		g_string_truncate (line, MIN (line->len, columns));
		while (line->len < columns)
			g_string_append_c (line, ' ');
		return g_string_free (g_steal_pointer (&line), FALSE);
	}
	g_string_append_printf (line, "%-8s ", label);
	if (bar > 0) {
		gsize filled = bar * percent / 100;

		g_string_append_c (line, '[');
		for (gsize i = 0; i < bar; i++)
			g_string_append_c (line, i < filled ? '#' : '.');
		g_string_append_c (line, ']');
	}
	g_string_append_printf (line, " %3u%%", percent);
	if (bytes != NULL)
		g_string_append (line, bytes);
	while (line->len < columns)
		g_string_append_c (line, ' ');
	return g_string_free (g_steal_pointer (&line), FALSE);
}

gchar *
mu_ctl_progress_text (const gchar *phase, guint percent, guint64 bytes_done, guint64 bytes_total)
{
	g_autofree gchar *label = phase_label (phase);
	g_autofree gchar *done = NULL;
	g_autofree gchar *total = NULL;

	percent = MIN (percent, 100);
	if (bytes_total == 0)
		return g_strdup_printf ("%s %u%%", label, percent);
	done = mu_ctl_format_bytes (bytes_done);
	total = mu_ctl_format_bytes (bytes_total);
	return g_strdup_printf ("%s %u%% (%s of %s)", label, percent, done, total);
}

void
mu_ctl_progress_filter_clear (MuCtlProgressFilter *filter)
{
	g_clear_pointer (&filter->phase, g_free);
	filter->decile = 0;
}

gboolean
mu_ctl_progress_filter_pass (MuCtlProgressFilter *filter, const gchar *phase, guint percent)
{
	guint decile = MIN (percent, 100) / 10;

	if (phase == NULL)
		phase = "";
	if (filter->phase != NULL && g_str_equal (filter->phase, phase) && decile <= filter->decile)
		return FALSE;
	g_free (filter->phase);
	filter->phase = g_strdup (phase);
	filter->decile = decile;
	return TRUE;
}

static JsonBuilder *
begin_event (const gchar *event)
{
	JsonBuilder *b = json_builder_new ();

	json_builder_begin_object (b);
	mu_json_builder_add_string_member (b, "event", event);
	return b;
}

static gchar *
end_event (JsonBuilder *b)
{
	json_builder_end_object (b);
	return mu_json_builder_to_line (b);
}

/* "" on the bus means none: null in JSON. */
static void
add_optional_text (JsonBuilder *b, const gchar *name, const gchar *value)
{
	mu_json_builder_add_text_member (b, name, value != NULL && *value != '\0' ? value : NULL);
}

/* "error" (short name), "dbus_error" (the full one), "message"; all null for none. */
static void
add_error_members (JsonBuilder *b, const gchar *dbus_error_name, const gchar *message)
{
	gboolean failed = dbus_error_name != NULL && *dbus_error_name != '\0';

	add_optional_text (b, "error", failed ? mu_ctl_short_error_name (dbus_error_name) : NULL);
	add_optional_text (b, "dbus_error", failed ? dbus_error_name : NULL);
	add_optional_text (b, "message", message);
}

static void
add_progress_members (JsonBuilder *b, const gchar *phase, guint percent, guint64 bytes_done,
		      guint64 bytes_total)
{
	mu_json_builder_add_text_member (b, "phase", phase != NULL ? phase : "");
	mu_json_builder_add_int_member (b, "percentage", MIN (percent, 100));
	mu_json_builder_add_int_member (b, "bytes_done", (gint64) MIN (bytes_done, G_MAXINT64));
	mu_json_builder_add_int_member (b, "bytes_total", (gint64) MIN (bytes_total, G_MAXINT64));
}

gchar *
mu_ctl_json_progress (const gchar *phase, guint percent, guint64 bytes_done, guint64 bytes_total)
{
	g_autoptr (JsonBuilder) b = begin_event ("progress");

	add_progress_members (b, phase, percent, bytes_done, bytes_total);
	return end_event (b);
}

gchar *
mu_ctl_json_state (const gchar *state)
{
	g_autoptr (JsonBuilder) b = begin_event ("state");

	mu_json_builder_add_text_member (b, "state", state != NULL ? state : "");
	return end_event (b);
}

gchar *
mu_ctl_json_result (const gchar *dbus_error_name, const gchar *message,
		    const gchar *pending_version, const gchar *pending_commit)
{
	g_autoptr (JsonBuilder) b = begin_event ("result");

	mu_json_builder_add_boolean_member (b, "success",
					    dbus_error_name == NULL || *dbus_error_name == '\0');
	add_error_members (b, dbus_error_name, message);
	if (pending_version != NULL)
		add_optional_text (b, "pending_version", pending_version);
	if (pending_commit != NULL)
		add_optional_text (b, "pending_commit", pending_commit);
	return end_event (b);
}

gchar *
mu_ctl_json_bundle_found (const gchar *medium, const gchar *name, guint64 size)
{
	g_autoptr (JsonBuilder) b = begin_event ("bundle-found");

	mu_json_builder_add_text_member (b, "medium", medium);
	mu_json_builder_add_text_member (b, "name", name);
	mu_json_builder_add_int_member (b, "size", (gint64) MIN (size, G_MAXINT64));
	return end_event (b);
}

gchar *
mu_ctl_json_bundle_skipped (const gchar *medium, const gchar *name, const gchar *dbus_error_name,
			    const gchar *message)
{
	g_autoptr (JsonBuilder) b = begin_event ("bundle-skipped");

	mu_json_builder_add_text_member (b, "medium", medium);
	mu_json_builder_add_text_member (b, "name", name);
	add_error_members (b, dbus_error_name, message);
	return end_event (b);
}

gchar *
mu_ctl_json_completed (const gchar *dbus_error_name, const gchar *message)
{
	g_autoptr (JsonBuilder) b = begin_event ("completed");

	mu_json_builder_add_boolean_member (b, "success",
					    dbus_error_name == NULL || *dbus_error_name == '\0');
	add_error_members (b, dbus_error_name, message);
	return end_event (b);
}

gchar *
mu_ctl_json_agent (gboolean registered, const gchar *unique_name)
{
	g_autoptr (JsonBuilder) b = begin_event ("agent");

	mu_json_builder_add_boolean_member (b, "registered", registered);
	mu_json_builder_add_text_member (b, "name", unique_name);
	return end_event (b);
}

gchar *
mu_ctl_json_daemon (gboolean running)
{
	g_autoptr (JsonBuilder) b = begin_event ("daemon");

	mu_json_builder_add_boolean_member (b, "running", running);
	return end_event (b);
}

gchar *
mu_ctl_json_error (const gchar *dbus_error_name, const gchar *message)
{
	g_autoptr (JsonBuilder) b = begin_event ("result");

	mu_json_builder_add_boolean_member (b, "success", FALSE);
	add_error_members (b, dbus_error_name, message);
	mu_json_builder_add_string_member (b, "hint", mu_ctl_error_hint (dbus_error_name));
	return end_event (b);
}

static void
add_boot_members (JsonBuilder *b, const MuCtlStatus *s)
{
	json_builder_set_member_name (b, "boot");
	json_builder_begin_object (b);
	add_optional_text (b, "backend", s->boot_backend);
	json_builder_set_member_name (b, "armed");
	json_builder_add_boolean_value (b, s->boot_armed);
	json_builder_set_member_name (b, "count");
	json_builder_add_int_value (b, s->boot_count);
	json_builder_set_member_name (b, "limit");
	json_builder_add_int_value (b, s->boot_limit);
	add_optional_text (b, "last_good_commit", s->last_good_commit);
	json_builder_set_member_name (b, "rolled_back_from");
	if (s->rolled_back_commit != NULL && *s->rolled_back_commit != '\0') {
		json_builder_begin_object (b);
		add_optional_text (b, "commit", s->rolled_back_commit);
		add_optional_text (b, "version", s->rolled_back_version);
		json_builder_end_object (b);
	} else {
		json_builder_add_null_value (b);
	}
	json_builder_set_member_name (b, "blacklist");
	json_builder_begin_array (b);
	for (gsize i = 0; s->blacklist != NULL && s->blacklist[i] != NULL; i++) {
		g_autofree gchar *escaped = mu_escape_untrusted (s->blacklist[i]);

		json_builder_add_string_value (b, escaped);
	}
	json_builder_end_array (b);
	json_builder_end_object (b);
}

gchar *
mu_ctl_status_to_json (const MuCtlStatus *s)
{
	g_autoptr (JsonBuilder) b = json_builder_new ();

	json_builder_begin_object (b);
	mu_json_builder_add_text_member (b, "state", s->state != NULL ? s->state : "");
	json_builder_set_member_name (b, "progress");
	json_builder_begin_object (b);
	add_progress_members (b, s->phase, s->percent, s->bytes_done, s->bytes_total);
	json_builder_end_object (b);
	json_builder_set_member_name (b, "last_error");
	if (s->last_error_name != NULL && *s->last_error_name != '\0') {
		json_builder_begin_object (b);
		add_error_members (b, s->last_error_name, s->last_error_message);
		json_builder_end_object (b);
	} else {
		json_builder_add_null_value (b);
	}
	add_optional_text (b, "current_version", s->current_version);
	add_optional_text (b, "current_commit", s->current_commit);
	add_optional_text (b, "pending_version", s->pending_version);
	add_optional_text (b, "pending_commit", s->pending_commit);
	add_optional_text (b, "reboot_policy", s->reboot_policy);
	add_optional_text (b, "agent", s->agent);
	json_builder_set_member_name (b, "queued_media");
	json_builder_begin_array (b);
	for (gsize i = 0; s->queued_media != NULL && s->queued_media[i] != NULL; i++) {
		g_autofree gchar *escaped = mu_escape_untrusted (s->queued_media[i]);

		json_builder_add_string_value (b, escaped);
	}
	json_builder_end_array (b);
	add_boot_members (b, s);
	json_builder_end_object (b);
	return mu_json_builder_to_line (b);
}

static const gchar *
or_none (GPtrArray *pool, const gchar *value)
{
	return value != NULL && *value != '\0' ? mu_escape_untrusted_in (pool, value) : "(none)";
}

/* "VERSION (commit COMMIT)", or "none". */
static void
append_deployment (GString *out, GPtrArray *pool, const gchar *title, const gchar *version,
		   const gchar *commit, const gchar *note)
{
	if (commit == NULL || *commit == '\0') {
		g_string_append_printf (out, "%-15s none\n", title);
		return;
	}
	g_string_append_printf (out, "%-15s %s (commit %s)%s\n", title, or_none (pool, version),
				mu_escape_untrusted_in (pool, commit), note);
}

/* Boot counter, last good, rolled back from, blacklist. */
static void
append_boot (GString *out, GPtrArray *pool, const MuCtlStatus *s)
{
	if (s->boot_armed)
		g_string_append_printf (out, "%-15s %s, armed: %u of %u boots of the new version\n",
					"Boot counter:", or_none (pool, s->boot_backend),
					s->boot_count, s->boot_limit);
	else
		g_string_append_printf (out, "%-15s %s, not armed\n",
					"Boot counter:", or_none (pool, s->boot_backend));
	g_string_append_printf (out, "%-15s %s\n", "Last good:",
				s->last_good_commit != NULL && *s->last_good_commit != '\0'
					? mu_escape_untrusted_in (pool, s->last_good_commit)
					: "none");
	append_deployment (out, pool, "Rolled back:", s->rolled_back_version, s->rolled_back_commit,
			   ", failed to boot");
	if (s->blacklist == NULL || s->blacklist[0] == NULL)
		g_string_append_printf (out, "%-15s none\n", "Blacklist:");
	for (gsize i = 0; s->blacklist != NULL && s->blacklist[i] != NULL; i++)
		g_string_append_printf (out, "%-15s %s\n", i == 0 ? "Blacklist:" : "",
					mu_escape_untrusted_in (pool, s->blacklist[i]));
}

gchar *
mu_ctl_status_to_text (const MuCtlStatus *s)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GString) out = g_string_new (NULL);

	g_string_append_printf (out, "%-15s %s\n", "State:", or_none (pool, s->state));
	if (s->phase != NULL && *s->phase != '\0') {
		g_autofree gchar *progress = mu_ctl_progress_text (s->phase, s->percent,
								   s->bytes_done, s->bytes_total);

		g_string_append_printf (out, "%-15s %s\n", "Progress:", progress);
	}
	append_deployment (out, pool, "Booted:", s->current_version, s->current_commit, "");
	append_deployment (out, pool, "Pending:", s->pending_version, s->pending_commit,
			   ", starts at the next boot");
	if (s->last_error_name != NULL && *s->last_error_name != '\0')
		g_string_append_printf (out, "%-15s %s: %s\n", "Last error:",
					mu_escape_untrusted_in (pool, mu_ctl_short_error_name (
									      s->last_error_name)),
					or_none (pool, s->last_error_message));
	else
		g_string_append_printf (out, "%-15s none\n", "Last error:");
	g_string_append_printf (out, "%-15s %s\n",
				"Reboot policy:", or_none (pool, s->reboot_policy));
	if (s->agent != NULL && *s->agent != '\0')
		g_string_append_printf (out, "%-15s %s (it decides about the reboot)\n",
					"Agent:", mu_escape_untrusted_in (pool, s->agent));
	else
		g_string_append_printf (out, "%-15s none\n", "Agent:");
	if (s->queued_media == NULL || s->queued_media[0] == NULL)
		g_string_append_printf (out, "%-15s none\n", "Queued media:");
	for (gsize i = 0; s->queued_media != NULL && s->queued_media[i] != NULL; i++)
		g_string_append_printf (out, "%-15s %s\n", i == 0 ? "Queued media:" : "",
					mu_escape_untrusted_in (pool, s->queued_media[i]));
	append_boot (out, pool, s);
	return g_string_free (g_steal_pointer (&out), FALSE);
}
