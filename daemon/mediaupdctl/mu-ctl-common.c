/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mu-ctl.h"
#include "mu-error.h"
#include "mu-escape.h"

#define MU_DBUS_NAME "org.mediaupd.Manager1"
#define MU_DBUS_PATH "/org/mediaupd/Manager1"

void
mu_ctl_out_init (MuCtlOut *out, gboolean json)
{
	out->json = json;
	out->tty = !json && isatty (STDOUT_FILENO);
	out->closed = FALSE;
}

void
mu_ctl_out_printf (MuCtlOut *out, const gchar *format, ...)
{
	va_list ap;
	int r;

	if (out->closed)
		return;
	va_start (ap, format);
	r = vfprintf (stdout, format, ap);
	va_end (ap);
	if (r < 0 || fflush (stdout) == EOF) {
		out->closed = TRUE;
		clearerr (stdout);
	}
}

void
mu_ctl_out_line (MuCtlOut *out, const gchar *line)
{
	mu_ctl_out_printf (out, "%s\n", line);
}

gboolean
mu_ctl_parse_options (GOptionContext *ctx, int *argc, char ***argv, int n_args, const gchar *usage)
{
	g_autoptr (GError) error = NULL;

	if (!g_option_context_parse (ctx, argc, argv, &error)) {
		g_autofree gchar *message = mu_escape_untrusted (error->message);

		g_printerr ("%s\nUsage: %s\n", message, usage);
		return FALSE;
	}
	/* (*argv)[0] is the command's name. */
	if (n_args >= 0 && *argc - 1 != n_args) {
		g_printerr ("%s\nUsage: %s\n",
			    *argc - 1 < n_args ? "Missing argument." : "Too many arguments.",
			    usage);
		return FALSE;
	}
	return TRUE;
}

gchar *
mu_ctl_error_dbus_name (const GError *error)
{
	if (g_dbus_error_is_remote_error (error))
		return g_dbus_error_get_remote_error (error);
	if (error->domain == MU_ERROR)
		return g_strconcat (MU_CTL_DBUS_ERROR_PREFIX,
				    mu_error_code_to_name ((MuErrorCode) error->code), NULL);
	if (error->domain == G_DBUS_ERROR)
		return g_dbus_error_encode_gerror (error);
	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
		return g_strdup ("org.freedesktop.DBus.Error.Timeout");
	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
	    g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
		return g_strdup ("org.freedesktop.DBus.Error.Disconnected");
	return g_strdup (MU_CTL_DBUS_ERROR_PREFIX "Failed");
}

/* The message without the "GDBus.Error:NAME: " that GDBus puts before a remote one. */
static gchar *
plain_message (const GError *error)
{
	g_autoptr (GError) copy = g_error_copy (error);

	g_dbus_error_strip_remote_error (copy);
	return g_strdup (copy->message);
}

MuCtlExit
mu_ctl_report_error (MuCtlOut *out, const gchar *what, const GError *error)
{
	g_autofree gchar *name = mu_ctl_error_dbus_name (error);
	g_autofree gchar *message = plain_message (error);
	g_autofree gchar *escaped = mu_escape_untrusted (message);
	const gchar *hint = mu_ctl_error_hint (name);

	if (out->json) {
		g_autofree gchar *line = mu_ctl_json_error (name, message);

		mu_ctl_out_line (out, line);
		return mu_ctl_exit_for_error_name (name);
	}
	/* The bus's refusal quotes its whole rule match: not for people. */
	if (mu_ctl_exit_for_error_name (name) == MU_CTL_EXIT_DENIED)
		g_printerr ("%s: permission denied (%s)\n", what, name);
	else
		g_printerr ("%s: %s (%s)\n", what, escaped, mu_ctl_short_error_name (name));
	if (hint != NULL)
		g_printerr ("Hint: %s.\n", hint);
	return mu_ctl_exit_for_error_name (name);
}

static MuCtlExit
report_unreachable (MuCtlOut *out, const gchar *dbus_name, const gchar *message)
{
	if (out->json) {
		g_autofree gchar *line = mu_ctl_json_error (dbus_name, message);

		mu_ctl_out_line (out, line);
	} else {
		g_autofree gchar *escaped = mu_escape_untrusted (message);

		g_printerr ("mediaupd is not reachable: %s\nHint: %s.\n", escaped,
			    mu_ctl_error_hint (dbus_name));
	}
	return mu_ctl_exit_for_error_name (dbus_name);
}

MuDBusManager1 *
mu_ctl_connect (MuCtlOut *out, MuCtlExit *ret_exit)
{
	g_autoptr (GDBusConnection) bus = NULL;
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (MuDBusManager1) proxy = NULL;
	g_autoptr (GError) error = NULL;

	bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
	if (bus == NULL) {
		g_autofree gchar *message = g_strdup_printf ("cannot connect to the system bus: %s",
							     error->message);

		*ret_exit = report_unreachable (out, "org.freedesktop.DBus.Error.NoServer",
						message);
		return NULL;
	}
	/* Properties may be read by anyone, and a call starts the daemon by D-Bus activation
	 * if it is not running: an answer here means the proxy below sees it running. */
	reply = g_dbus_connection_call_sync (bus, MU_DBUS_NAME, MU_DBUS_PATH,
					     "org.freedesktop.DBus.Properties", "GetAll",
					     g_variant_new ("(s)", MU_DBUS_NAME), NULL,
					     G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (reply == NULL) {
		g_autofree gchar *name = mu_ctl_error_dbus_name (error);
		g_autofree gchar *message = plain_message (error);

		if (mu_ctl_exit_for_error_name (name) == MU_CTL_EXIT_UNREACHABLE) {
			*ret_exit = report_unreachable (out, name, message);
			return NULL;
		}
		*ret_exit = mu_ctl_report_error (out, "Reading the daemon's state", error);
		return NULL;
	}
	proxy = mu_dbus_manager1_proxy_new_sync (bus, G_DBUS_PROXY_FLAGS_NONE, MU_DBUS_NAME,
						 MU_DBUS_PATH, NULL, &error);
	if (proxy == NULL) {
		*ret_exit = mu_ctl_report_error (out, "Connecting to the daemon", error);
		return NULL;
	}
	return g_steal_pointer (&proxy);
}

int
mu_ctl_open_bundle (const gchar *path, GError **error)
{
	struct stat st;
	int fd;
	int flags;

	g_return_val_if_fail (error == NULL || *error == NULL, -1);

	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer. */
	fd = open (path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;

		if (saved == ELOOP) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "'%s' is a symbolic link; give the bundle file itself "
				     "(readlink -f shows where it points)",
				     path);
		} else if (saved == ENOENT || saved == ENOTDIR) {
			g_set_error (error, MU_ERROR, MU_ERROR_NOT_FOUND,
				     "'%s' does not exist; give the path of the bundle file, "
				     "e.g. /media/STICK/static-update.bundle.enc",
				     path);
		} else {
			g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot open '%s': %s", path,
				     g_strerror (saved));
		}
		return -1;
	}
	if (fstat (fd, &st) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot stat '%s': %s", path,
			     g_strerror (saved));
		(void) close (fd);
		return -1;
	}
	if (!S_ISREG (st.st_mode)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "'%s' is %s, not a bundle file; give the path of the bundle file",
			     path,
			     S_ISDIR (st.st_mode)                           ? "a directory"
			     : S_ISFIFO (st.st_mode)                        ? "a FIFO"
			     : S_ISBLK (st.st_mode) || S_ISCHR (st.st_mode) ? "a device"
			     : S_ISSOCK (st.st_mode)                        ? "a socket"
									    : "not a regular file");
		(void) close (fd);
		return -1;
	}
	flags = fcntl (fd, F_GETFL);
	if (flags < 0 || fcntl (fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot use '%s': %s", path,
			     g_strerror (saved));
		(void) close (fd);
		return -1;
	}
	return fd;
}

void
mu_ctl_progress_view_init (MuCtlProgressView *view, MuCtlOut *out, gboolean bar)
{
	*view = (MuCtlProgressView){ .out = out, .bar = bar && out->tty && !out->json };
}

void
mu_ctl_progress_view_clear (MuCtlProgressView *view)
{
	mu_ctl_progress_filter_clear (&view->filter);
	g_clear_pointer (&view->last_phase, g_free);
}

static guint
terminal_width (void)
{
	struct winsize ws = { 0 };

	if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

void
mu_ctl_progress_view_update (MuCtlProgressView *view, GVariant *progress)
{
	const gchar *phase;
	guint percent;
	guint64 done;
	guint64 total;

	if (progress == NULL || !g_variant_is_of_type (progress, G_VARIANT_TYPE ("(sutt)")))
		return;
	g_variant_get (progress, "(&sutt)", &phase, &percent, &done, &total);
	if (view->out->json) {
		g_autofree gchar *line = NULL;

		/* One line per visible change, not per byte. */
		if (view->last_phase != NULL && g_str_equal (view->last_phase, phase) &&
		    view->last_percent == percent)
			return;
		g_free (view->last_phase);
		view->last_phase = g_strdup (phase);
		view->last_percent = percent;
		line = mu_ctl_json_progress (phase, percent, done, total);
		mu_ctl_out_line (view->out, line);
		return;
	}
	/* Idle again: the install's end is printed by whoever follows it. */
	if (*phase == '\0')
		return;
	if (view->bar) {
		g_autofree gchar *line = mu_ctl_progress_bar (phase, percent, done, total,
							      terminal_width ());

		mu_ctl_out_printf (view->out, "\r%s", line);
		view->bar_drawn = TRUE;
		return;
	}
	if (mu_ctl_progress_filter_pass (&view->filter, phase, percent)) {
		g_autofree gchar *text = mu_ctl_progress_text (phase, percent, done, total);

		mu_ctl_out_line (view->out, text);
	}
}

void
mu_ctl_progress_view_break (MuCtlProgressView *view)
{
	if (!view->bar_drawn)
		return;
	mu_ctl_out_printf (view->out, "\n");
	view->bar_drawn = FALSE;
}
