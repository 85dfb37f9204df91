/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What mediaupdctl prints: progress bar, bytes, JSON lines, status, exit statuses. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "mu-ctl-output.h"

/* No byte a terminal acts on. */
static void
assert_no_control (const gchar *s)
{
	for (const gchar *p = s; *p != '\0'; p++)
		g_assert_false ((guchar) *p < 0x20 || (guchar) *p == 0x7f);
	g_assert_null (strstr (s, "\xc2\x9b"));
	g_assert_null (strstr (s, "\xe2\x80\xae"));
}

static JsonObject *
parse_line (JsonParser *parser, const gchar *line)
{
	g_autoptr (GError) error = NULL;

	g_assert_null (strchr (line, '\n'));
	g_assert_true (json_parser_load_from_data (parser, line, -1, &error));
	g_assert_no_error (error);
	g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
	return json_node_get_object (json_parser_get_root (parser));
}

static gboolean
member_is_null (JsonObject *o, const gchar *name)
{
	g_assert_true (json_object_has_member (o, name));
	return JSON_NODE_HOLDS_NULL (json_object_get_member (o, name));
}

static void
test_format_bytes (void)
{
	static const struct {
		guint64 bytes;
		const gchar *text;
	} cases[] = {
		{ 0, "0 B" },
		{ 1, "1 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" },
		{ 10 * 1024 - 1, "10.0 KiB" },
		/* 1023.999 KiB would round to "1024.0 KiB": the next unit instead. */
		{ 1048575, "1.0 MiB" },
		{ 1048576, "1.0 MiB" },
		{ 12897485, "12.3 MiB" },
		{ G_GUINT64_CONSTANT (5) << 30, "5.0 GiB" },
		{ (G_GUINT64_CONSTANT (3) << 40) + (G_GUINT64_CONSTANT (1) << 39), "3.5 TiB" },
		{ G_MAXUINT64, "16.0 EiB" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *text = mu_ctl_format_bytes (cases[i].bytes);

		g_test_message ("%" G_GUINT64_FORMAT, cases[i].bytes);
		g_assert_cmpstr (text, ==, cases[i].text);
	}
}

static gsize
count_char (const gchar *s, gchar c)
{
	gsize n = 0;

	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

static void
test_progress_bar_widths (void)
{
	static const guint widths[] = { 0, 200, 120, 80, 60, 40, 30, 25, 20, 16, 12, 8, 2, 1 };

	for (gsize i = 0; i < G_N_ELEMENTS (widths); i++) {
		guint w = widths[i];
		g_autofree gchar *line = mu_ctl_progress_bar ("apply", 50, 12 << 20, 24 << 20, w);
		gsize columns = (w == 0 ? 80 : w) - 1;
		const gchar *open = strchr (line, '[');

		g_test_message ("width %u: '%s'", w, line);
		/* Exactly the width less one column: it overwrites a longer line, never wraps. */
		g_assert_cmpuint (strlen (line), ==, columns);
		assert_no_control (line);
		if (columns >= 9)
			g_assert_nonnull (strstr (line, " 50%"));
		if (open != NULL) {
			const gchar *close = strchr (open, ']');
			gsize bar = (gsize) (close - open - 1);

			g_assert_nonnull (close);
			g_assert_cmpuint (bar, >=, 10);
			g_assert_cmpuint (bar, <=, 40);
			/* Half of the bar is filled. */
			g_assert_cmpuint (count_char (line, '#'), ==, bar / 2);
			g_assert_cmpuint (count_char (line, '.'), >=, bar - bar / 2);
		}
	}
}

/* The filled part of a 40-column bar rounds down: full only at 100 %. */
static void
test_progress_bar_fill (void)
{
	static const guint percents[][2] = { { 0, 0 },   { 1, 0 },   { 2, 0 },   { 3, 1 },
					     { 33, 13 }, { 50, 20 }, { 99, 39 }, { 100, 40 } };

	for (gsize i = 0; i < G_N_ELEMENTS (percents); i++) {
		g_autofree gchar *line = mu_ctl_progress_bar ("apply", percents[i][0], 0, 0, 100);

		g_test_message ("%u%%: '%s'", percents[i][0], line);
		g_assert_cmpuint (count_char (line, '#'), ==, percents[i][1]);
		g_assert_cmpuint (count_char (line, '.'), ==, 40 - percents[i][1]);
	}
}

static void
test_progress_bar_content (void)
{
	g_autofree gchar *wide = mu_ctl_progress_bar ("apply", 50, 12 << 20, 24 << 20, 80);
	g_autofree gchar *narrow = mu_ctl_progress_bar ("apply", 50, 12 << 20, 24 << 20, 30);
	g_autofree gchar *tiny = mu_ctl_progress_bar ("apply", 50, 12 << 20, 24 << 20, 16);
	g_autofree gchar *tinier = mu_ctl_progress_bar ("apply", 50, 12 << 20, 24 << 20, 12);
	g_autofree gchar *nobytes = mu_ctl_progress_bar ("unlock", 7, 0, 0, 80);
	g_autofree gchar *full = mu_ctl_progress_bar ("deploy", 250, 0, 0, 60);
	g_autofree gchar *none = mu_ctl_progress_bar ("", 0, 0, 0, 60);
	g_autofree gchar *hostile = mu_ctl_progress_bar ("\033[2J\xe2\x80\xae"
							 "abcdefghijklmnop",
							 1, 0, 0, 80);

	g_assert_true (g_str_has_prefix (wide, "apply    [####################...................."
					       "]  50%  12.0 MiB / 24.0 MiB"));
	/* Too narrow for the byte counts: the bar stays. */
	g_assert_true (g_str_has_prefix (narrow, "apply    [######.......]  50%"));
	g_assert_null (strstr (narrow, "MiB"));
	/* Too narrow for a bar: phase and percent. */
	g_assert_cmpstr (tiny, ==, "apply      50% ");
	g_assert_cmpstr (tinier, ==, "apply 50%  ");
	g_assert_null (strstr (nobytes, "B"));
	g_assert_true (g_str_has_prefix (nobytes, "unlock   [##.."));
	g_assert_nonnull (strstr (nobytes, "   7%"));
	/* Over 100 is 100, the bar full. */
	g_assert_nonnull (strstr (full, "100%"));
	g_assert_null (strstr (full, "."));
	g_assert_true (g_str_has_prefix (none, "waiting  ["));
	/* Escaped, printable only, 12 columns of phase at most. */
	assert_no_control (hostile);
	g_assert_true (g_str_has_prefix (hostile, "\\x1b[2J\\u202 ["));
}

static void
test_progress_text (void)
{
	g_autofree gchar *bytes = mu_ctl_progress_text ("apply", 40, 1536, 1 << 20);
	g_autofree gchar *plain = mu_ctl_progress_text ("unlock", 10, 0, 0);
	g_autofree gchar *hostile = mu_ctl_progress_text ("a\nb", 120, 0, 0);

	g_assert_cmpstr (bytes, ==, "apply 40% (1.5 KiB of 1.0 MiB)");
	g_assert_cmpstr (plain, ==, "unlock 10%");
	g_assert_cmpstr (hostile, ==, "a\\x0ab 100%");
}

static void
test_progress_filter (void)
{
	static const struct {
		const gchar *phase;
		guint percent;
		gboolean shown;
	} steps[] = {
		{ "discover", 0, TRUE }, { "discover", 3, FALSE }, { "unlock", 5, TRUE },
		{ "unlock", 9, FALSE },  { "unlock", 10, TRUE },   { "unlock", 10, FALSE },
		{ "unlock", 19, FALSE }, { "verify", 19, TRUE },   { "apply", 20, TRUE },
		{ "apply", 35, TRUE },   { "apply", 38, FALSE },   { "apply", 40, TRUE },
		{ "apply", 100, TRUE },  { "apply", 100, FALSE },  { "deploy", 100, TRUE },
	};
	g_auto (MuCtlProgressFilter) filter = { 0 };

	for (gsize i = 0; i < G_N_ELEMENTS (steps); i++) {
		g_test_message ("step %" G_GSIZE_FORMAT, i);
		g_assert_cmpint (mu_ctl_progress_filter_pass (&filter, steps[i].phase,
							      steps[i].percent),
				 ==, steps[i].shown);
	}
}

static void
test_exit_mapping (void)
{
	static const struct {
		const gchar *name;
		MuCtlExit exit;
		const gchar *short_name;
		const gchar *hint; /* a word the hint must hold, or NULL for none */
	} cases[] = {
		{ "org.mediaupd.Error.NotABundle", MU_CTL_EXIT_FAILED, "NotABundle", NULL },
		{ "org.mediaupd.Error.NotRunning", MU_CTL_EXIT_FAILED, "NotRunning", NULL },
		{ "org.mediaupd.Error.Busy", MU_CTL_EXIT_FAILED, "Busy", NULL },
		{ "org.mediaupd.Error.", MU_CTL_EXIT_FAILED, "org.mediaupd.Error.", NULL },
		{ "org.freedesktop.DBus.Error.ServiceUnknown", MU_CTL_EXIT_UNREACHABLE,
		  "org.freedesktop.DBus.Error.ServiceUnknown", "systemctl start mediaupd" },
		{ "org.freedesktop.DBus.Error.NameHasNoOwner", MU_CTL_EXIT_UNREACHABLE, NULL,
		  "systemctl start mediaupd" },
		{ "org.freedesktop.DBus.Error.NoReply", MU_CTL_EXIT_UNREACHABLE, NULL,
		  "journalctl -u mediaupd" },
		{ "org.freedesktop.DBus.Error.Spawn.ChildExited", MU_CTL_EXIT_UNREACHABLE, NULL,
		  "systemctl start mediaupd" },
		{ "org.freedesktop.DBus.Error.NoServer", MU_CTL_EXIT_UNREACHABLE, NULL,
		  "systemctl status dbus" },
		{ "org.freedesktop.DBus.Error.Disconnected", MU_CTL_EXIT_UNREACHABLE, NULL,
		  "DBUS_SYSTEM_BUS_ADDRESS" },
		{ "org.freedesktop.DBus.Error.AccessDenied", MU_CTL_EXIT_DENIED, NULL, "as root" },
		{ "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", MU_CTL_EXIT_DENIED,
		  NULL, "as root" },
		{ "org.freedesktop.DBus.Error.UnknownMethod", MU_CTL_EXIT_FAILED, NULL,
		  "older version" },
		{ "org.freedesktop.DBus.Error.InvalidArgs", MU_CTL_EXIT_FAILED, NULL, NULL },
		{ "com.example.Other", MU_CTL_EXIT_FAILED, "com.example.Other", NULL },
		{ "", MU_CTL_EXIT_FAILED, "", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		const gchar *hint = mu_ctl_error_hint (cases[i].name);

		g_test_message ("%s", cases[i].name);
		g_assert_cmpint (mu_ctl_exit_for_error_name (cases[i].name), ==, cases[i].exit);
		g_assert_cmpstr (mu_ctl_short_error_name (cases[i].name), ==,
				 cases[i].short_name != NULL ? cases[i].short_name : cases[i].name);
		if (cases[i].hint == NULL)
			g_assert_null (hint);
		else
			g_assert_nonnull (strstr (hint, cases[i].hint));
	}
	g_assert_null (mu_ctl_short_error_name (NULL));
	g_assert_null (mu_ctl_error_hint (NULL));
	/* The numbers are documented: they must not move. */
	g_assert_cmpint (MU_CTL_EXIT_OK, ==, 0);
	g_assert_cmpint (MU_CTL_EXIT_FAILED, ==, 1);
	g_assert_cmpint (MU_CTL_EXIT_USAGE, ==, 2);
	g_assert_cmpint (MU_CTL_EXIT_UNREACHABLE, ==, 3);
	g_assert_cmpint (MU_CTL_EXIT_DENIED, ==, 4);
}

static void
test_json_lines (void)
{
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autofree gchar *progress = mu_ctl_json_progress ("apply", 42, 1000, G_MAXUINT64);
	g_autofree gchar *state = mu_ctl_json_state ("applying");
	g_autofree gchar *ok = mu_ctl_json_result (NULL, NULL, "2.0", "abc");
	g_autofree gchar *failed = mu_ctl_json_result ("org.mediaupd.Error.NotABundle",
						       "not a bundle\033]0;pwned\a", NULL, NULL);
	g_autofree gchar *found =
		mu_ctl_json_bundle_found ("/org/freedesktop/UDisks2/block_devices/sdb1",
					  "evil\xe2\x80\xae.enc", 4096);
	g_autofree gchar *skipped = mu_ctl_json_bundle_skipped ("/", "old.enc",
								"org.mediaupd.Error.Downgrade",
								"older");
	g_autofree gchar *done = mu_ctl_json_completed ("", "");
	g_autofree gchar *undone = mu_ctl_json_completed ("org.mediaupd.Error.Cancelled",
							  "stopped");
	g_autofree gchar *error = mu_ctl_json_error ("org.freedesktop.DBus.Error.ServiceUnknown",
						     "no such name");
	g_autofree gchar *agent = mu_ctl_json_agent (TRUE, ":1.7");
	g_autofree gchar *daemon = mu_ctl_json_daemon (FALSE);
	JsonObject *o;

	o = parse_line (parser, progress);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "progress");
	g_assert_cmpstr (json_object_get_string_member (o, "phase"), ==, "apply");
	g_assert_cmpint (json_object_get_int_member (o, "percentage"), ==, 42);
	g_assert_cmpint (json_object_get_int_member (o, "bytes_done"), ==, 1000);
	g_assert_cmpint (json_object_get_int_member (o, "bytes_total"), ==, G_MAXINT64);

	o = parse_line (parser, state);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "state");
	g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "applying");

	o = parse_line (parser, ok);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "result");
	g_assert_true (json_object_get_boolean_member (o, "success"));
	g_assert_true (member_is_null (o, "error"));
	g_assert_true (member_is_null (o, "dbus_error"));
	g_assert_true (member_is_null (o, "message"));
	g_assert_cmpstr (json_object_get_string_member (o, "pending_version"), ==, "2.0");
	g_assert_cmpstr (json_object_get_string_member (o, "pending_commit"), ==, "abc");

	o = parse_line (parser, failed);
	g_assert_false (json_object_get_boolean_member (o, "success"));
	g_assert_cmpstr (json_object_get_string_member (o, "error"), ==, "NotABundle");
	g_assert_cmpstr (json_object_get_string_member (o, "dbus_error"), ==,
			 "org.mediaupd.Error.NotABundle");
	/* Escaped before JSON: the text itself holds no control character either. */
	g_assert_cmpstr (json_object_get_string_member (o, "message"), ==,
			 "not a bundle\\x1b]0;pwned\\x07");
	g_assert_false (json_object_has_member (o, "pending_version"));

	o = parse_line (parser, found);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "bundle-found");
	g_assert_cmpstr (json_object_get_string_member (o, "name"), ==, "evil\\u202e.enc");
	g_assert_cmpint (json_object_get_int_member (o, "size"), ==, 4096);
	assert_no_control (found);
	g_assert_null (strstr (found, "\xe2\x80\xae"));

	o = parse_line (parser, skipped);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "bundle-skipped");
	g_assert_cmpstr (json_object_get_string_member (o, "error"), ==, "Downgrade");
	g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, "older");

	o = parse_line (parser, done);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "completed");
	g_assert_true (json_object_get_boolean_member (o, "success"));
	g_assert_true (member_is_null (o, "error"));

	o = parse_line (parser, undone);
	g_assert_false (json_object_get_boolean_member (o, "success"));
	g_assert_cmpstr (json_object_get_string_member (o, "error"), ==, "Cancelled");

	o = parse_line (parser, error);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "result");
	g_assert_false (json_object_get_boolean_member (o, "success"));
	g_assert_cmpstr (json_object_get_string_member (o, "error"), ==,
			 "org.freedesktop.DBus.Error.ServiceUnknown");
	g_assert_nonnull (
		strstr (json_object_get_string_member (o, "hint"), "systemctl start mediaupd"));

	o = parse_line (parser, agent);
	g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "agent");
	g_assert_true (json_object_get_boolean_member (o, "registered"));
	g_assert_cmpstr (json_object_get_string_member (o, "name"), ==, ":1.7");

	o = parse_line (parser, daemon);
	g_assert_false (json_object_get_boolean_member (o, "running"));
}

static void
test_status (void)
{
	const gchar *const queued[] = { "/org/freedesktop/UDisks2/block_devices/sdc1", "/x\033[31m",
					NULL };
	const gchar *const blacklist[] = { "dead", "bad\033", NULL };
	MuCtlStatus busy = {
		.state = "applying",
		.phase = "apply",
		.percent = 60,
		.bytes_done = 3 << 20,
		.bytes_total = 6 << 20,
		.last_error_name = "org.mediaupd.Error.SignatureInvalid",
		.last_error_message = "no signature verifies\n",
		.current_version = "1.0",
		.current_commit = "c0ffee",
		.pending_version = "",
		.pending_commit = "",
		.reboot_policy = "after-removal",
		.agent = ":1.42",
		.queued_media = queued,
	};
	MuCtlStatus idle = {
		.state = "idle",
		.phase = "",
		.last_error_name = "",
		.last_error_message = "",
		.current_version = "1.0",
		.current_commit = "c0ffee",
		.pending_version = "2.0",
		.pending_commit = "beef",
		.reboot_policy = "never",
		.agent = "",
		.boot_backend = "uboot",
		.boot_armed = TRUE,
		.boot_count = 1,
		.boot_limit = 3,
		.last_good_commit = "c0ffee",
		.rolled_back_commit = "dead",
		.rolled_back_version = "3",
		.blacklist = blacklist,
	};
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autofree gchar *json = mu_ctl_status_to_json (&busy);
	JsonObject *boot;
	g_autofree gchar *idle_json = mu_ctl_status_to_json (&idle);
	g_autofree gchar *text = mu_ctl_status_to_text (&busy);
	g_autofree gchar *idle_text = mu_ctl_status_to_text (&idle);
	JsonObject *o;
	JsonObject *p;
	JsonObject *e;
	JsonArray *media;

	o = parse_line (parser, json);
	g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "applying");
	p = json_object_get_object_member (o, "progress");
	g_assert_cmpstr (json_object_get_string_member (p, "phase"), ==, "apply");
	g_assert_cmpint (json_object_get_int_member (p, "percentage"), ==, 60);
	g_assert_cmpint (json_object_get_int_member (p, "bytes_total"), ==, 6 << 20);
	e = json_object_get_object_member (o, "last_error");
	g_assert_cmpstr (json_object_get_string_member (e, "error"), ==, "SignatureInvalid");
	g_assert_cmpstr (json_object_get_string_member (e, "message"), ==,
			 "no signature verifies\\x0a");
	g_assert_true (member_is_null (o, "pending_version"));
	g_assert_true (member_is_null (o, "pending_commit"));
	g_assert_cmpstr (json_object_get_string_member (o, "agent"), ==, ":1.42");
	media = json_object_get_array_member (o, "queued_media");
	g_assert_cmpuint (json_array_get_length (media), ==, 2);
	g_assert_cmpstr (json_array_get_string_element (media, 1), ==, "/x\\x1b[31m");

	o = parse_line (parser, idle_json);
	g_assert_true (member_is_null (o, "last_error"));
	g_assert_true (member_is_null (o, "agent"));
	g_assert_cmpstr (json_object_get_string_member (o, "pending_version"), ==, "2.0");
	g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "queued_media")),
			  ==, 0);
	boot = json_object_get_object_member (o, "boot");
	g_assert_cmpstr (json_object_get_string_member (boot, "backend"), ==, "uboot");
	g_assert_true (json_object_get_boolean_member (boot, "armed"));
	g_assert_cmpint (json_object_get_int_member (boot, "count"), ==, 1);
	g_assert_cmpint (json_object_get_int_member (boot, "limit"), ==, 3);
	g_assert_cmpstr (json_object_get_string_member (boot, "last_good_commit"), ==, "c0ffee");
	g_assert_cmpstr (json_object_get_string_member (
				 json_object_get_object_member (boot, "rolled_back_from"),
				 "version"),
			 ==, "3");
	g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (boot,
										      "blacklist"),
							1),
			 ==, "bad\\x1b");
	o = parse_line (parser, json);
	boot = json_object_get_object_member (o, "boot");
	g_assert_true (member_is_null (boot, "rolled_back_from"));
	g_assert_true (member_is_null (boot, "last_good_commit"));
	g_assert_false (json_object_get_boolean_member (boot, "armed"));

	g_assert_cmpstr (text, ==,
			 "State:          applying\n"
			 "Progress:       apply 60% (3.0 MiB of 6.0 MiB)\n"
			 "Booted:         1.0 (commit c0ffee)\n"
			 "Pending:        none\n"
			 "Last error:     SignatureInvalid: no signature verifies\\x0a\n"
			 "Reboot policy:  after-removal\n"
			 "Agent:          :1.42 (it decides about the reboot)\n"
			 "Queued media:   /org/freedesktop/UDisks2/block_devices/sdc1\n"
			 "                /x\\x1b[31m\n"
			 "Boot counter:   (none), not armed\n"
			 "Last good:      none\n"
			 "Rolled back:    none\n"
			 "Blacklist:      none\n");
	g_assert_cmpstr (idle_text, ==,
			 "State:          idle\n"
			 "Booted:         1.0 (commit c0ffee)\n"
			 "Pending:        2.0 (commit beef), starts at the next boot\n"
			 "Last error:     none\n"
			 "Reboot policy:  never\n"
			 "Agent:          none\n"
			 "Queued media:   none\n"
			 "Boot counter:   uboot, armed: 1 of 3 boots of the new version\n"
			 "Last good:      c0ffee\n"
			 "Rolled back:    3 (commit dead), failed to boot\n"
			 "Blacklist:      dead\n"
			 "                bad\\x1b\n");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/ctl-output/format-bytes", test_format_bytes);
	g_test_add_func ("/ctl-output/progress-bar/widths", test_progress_bar_widths);
	g_test_add_func ("/ctl-output/progress-bar/content", test_progress_bar_content);
	g_test_add_func ("/ctl-output/progress-bar/fill", test_progress_bar_fill);
	g_test_add_func ("/ctl-output/progress-text", test_progress_text);
	g_test_add_func ("/ctl-output/progress-filter", test_progress_filter);
	g_test_add_func ("/ctl-output/exit-mapping", test_exit_mapping);
	g_test_add_func ("/ctl-output/json-lines", test_json_lines);
	g_test_add_func ("/ctl-output/status", test_status);
	return g_test_run ();
}
