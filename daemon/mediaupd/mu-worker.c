/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mu-error.h"
#include "mu-worker-proto.h"
#include "mu-worker.h"

/* The worker's descriptors, as its command line names them. */
#define CHILD_SOCKET_FD 3
#define CHILD_BUNDLE_FD 4

struct _MuWorker {
	MuWorkerOptions options;
	GSubprocess *process;
	GPid pid;
	int socket_fd;
	GSource *socket_source;
	GCancellable *cancellable; /* of the wait, for mu_worker_free() */
	GError *result_error;
	GVariant *result_details;
	gboolean have_result;
	gboolean violation; /* a malformed message: the worker was killed */
	GError *violation_error;
};

gchar *
mu_worker_describe_exit (gint wait_status)
{
	if (WIFSIGNALED (wait_status))
		return g_strdup_printf ("was killed by signal %d (%s)", WTERMSIG (wait_status),
					strsignal (WTERMSIG (wait_status)));
	if (WIFEXITED (wait_status))
		return g_strdup_printf ("exited with status %d", WEXITSTATUS (wait_status));
	return g_strdup_printf ("ended with wait status 0x%x", (guint) wait_status);
}

static void
violation (MuWorker *w, GError *error)
{
	if (w->violation) {
		g_error_free (error);
		return;
	}
	w->violation = TRUE;
	w->violation_error = error;
	g_warning ("%s; stopping it", error->message);
	g_subprocess_force_exit (w->process);
}

static void
handle_packet (MuWorker *w, GBytes *bytes)
{
	g_auto (MuWorkerMessage) message = { 0 };
	GError *error = NULL;

	if (!mu_worker_message_parse (bytes, &message, &error)) {
		violation (w, error);
		return;
	}
	if (w->have_result) {
		violation (w, g_error_new_literal (MU_ERROR, MU_ERROR_WORKER_FAILED,
						   "the install process sent a second result"));
		return;
	}
	if (message.kind == MU_WORKER_MESSAGE_PROGRESS) {
		if (w->options.progress != NULL)
			w->options.progress (w, &message.progress, w->options.user_data);
		return;
	}
	w->have_result = TRUE;
	w->result_error = g_steal_pointer (&message.error);
	w->result_details = g_steal_pointer (&message.details);
}

/* Reads every packet waiting; FALSE at the end of the stream or on an error. */
static gboolean
drain (MuWorker *w)
{
	g_autofree guint8 *buf = g_malloc (MU_WORKER_MESSAGE_MAX + 1);

	while (!w->violation) {
		ssize_t n = recv (w->socket_fd, buf, MU_WORKER_MESSAGE_MAX + 1,
				  MSG_DONTWAIT | MSG_TRUNC);
		g_autoptr (GBytes) bytes = NULL;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return FALSE;
		if (n > MU_WORKER_MESSAGE_MAX) {
			violation (w, g_error_new (MU_ERROR, MU_ERROR_WORKER_FAILED,
						   "the install process sent a message of %zd "
						   "bytes, more than %d",
						   n, MU_WORKER_MESSAGE_MAX));
			return FALSE;
		}
		bytes = g_bytes_new (buf, (gsize) n);
		handle_packet (w, bytes);
	}
	return FALSE;
}

static gboolean
on_socket (gint fd, GIOCondition condition, gpointer user_data)
{
	MuWorker *w = user_data;

	if (drain (w))
		return G_SOURCE_CONTINUE;
	w->socket_source = NULL;
	return G_SOURCE_REMOVE;
}

static void
on_exited (GObject *source, GAsyncResult *res, gpointer user_data)
{
	MuWorker *w = user_data;
	g_autoptr (GError) wait_error = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) details = NULL;
	gint status;
	gboolean clean;

	if (!g_subprocess_wait_finish (G_SUBPROCESS (source), res, &wait_error) &&
	    g_error_matches (wait_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* freed */
	status = g_subprocess_get_status (w->process);
	w->pid = 0;
	/* What it sent just before it ended. */
	(void) drain (w);
	clean = !w->violation && WIFEXITED (status) && WEXITSTATUS (status) == 0;
	if (w->violation) {
		error = g_steal_pointer (&w->violation_error);
	} else if (!w->have_result) {
		g_autofree gchar *how = mu_worker_describe_exit (status);

		error = g_error_new (MU_ERROR, MU_ERROR_WORKER_FAILED,
				     "the install process %s before it reported a result", how);
	} else {
		error = g_steal_pointer (&w->result_error);
		details = g_steal_pointer (&w->result_details);
	}
	if (details == NULL)
		details = g_variant_ref_sink (
			g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0));
	w->options.done (w, error, details, clean, w->options.user_data);
}

static const gchar *
mode_name (MuWorkerMode mode)
{
	switch (mode) {
	case MU_WORKER_CHECK:
		return "check";
	case MU_WORKER_INSPECT:
		return "inspect";
	case MU_WORKER_INSTALL:
	default:
		return "install";
	}
}

MuWorker *
mu_worker_start (const MuWorkerOptions *options, GError **error)
{
	g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
		G_SUBPROCESS_FLAGS_NONE);
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GError) local_error = NULL;
	g_autofree gchar *cmdline = NULL;
	const gchar *identifier;
	MuWorker *w;
	int pair[2];

	g_return_val_if_fail (options->done != NULL, NULL);
	g_return_val_if_fail ((options->path == NULL) != (options->fd < 0), NULL);

	if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot make a socket for the install process: %s",
			     g_strerror (saved));
		return NULL;
	}
	g_subprocess_launcher_take_fd (launcher, pair[1], CHILD_SOCKET_FD);
	g_ptr_array_add (argv, g_strdup ("/proc/self/exe"));
	g_ptr_array_add (argv, g_strdup_printf ("--worker=%s", mode_name (options->mode)));
	g_ptr_array_add (argv, g_strdup_printf ("--socket-fd=%d", CHILD_SOCKET_FD));
	if (options->config_path != NULL)
		g_ptr_array_add (argv, g_strdup_printf ("--config=%s", options->config_path));
	if (options->fd >= 0) {
		int dup_fd = fcntl (options->fd, F_DUPFD_CLOEXEC, 3);

		if (dup_fd < 0) {
			int saved = errno;

			close (pair[0]);
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
				     "cannot pass the bundle to the install process: %s",
				     g_strerror (saved));
			return NULL;
		}
		g_subprocess_launcher_take_fd (launcher, dup_fd, CHILD_BUNDLE_FD);
		g_ptr_array_add (argv, g_strdup_printf ("--bundle-fd=%d", CHILD_BUNDLE_FD));
		g_ptr_array_add (argv,
				 g_strdup_printf ("--name=%s", options->name != NULL ? options->name
										     : "bundle"));
	} else {
		g_ptr_array_add (argv, g_strdup_printf ("--path=%s", options->path));
	}
	g_ptr_array_add (argv, NULL);
	cmdline = g_strjoinv (" ", (GStrv) argv->pdata);
	g_debug ("starting %s", cmdline);

	w = g_new0 (MuWorker, 1);
	w->options = *options;
	w->socket_fd = pair[0];
	w->process = g_subprocess_launcher_spawnv (launcher, (const gchar *const *) argv->pdata,
						   &local_error);
	if (w->process == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot start the install process: %s", local_error->message);
		mu_worker_free (w);
		return NULL;
	}
	/* NULL once the process has been reaped: it can end before we get here. */
	identifier = g_subprocess_get_identifier (w->process);
	w->pid = identifier != NULL ? (GPid) g_ascii_strtoll (identifier, NULL, 10) : 0;
	w->cancellable = g_cancellable_new ();
	w->socket_source = g_unix_fd_source_new (w->socket_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback (w->socket_source, G_SOURCE_FUNC (on_socket), w, NULL);
	g_source_attach (w->socket_source, NULL);
	g_source_unref (w->socket_source);
	g_subprocess_wait_async (w->process, w->cancellable, on_exited, w);
	return w;
}

void
mu_worker_cancel (MuWorker *w)
{
	if (w->pid != 0)
		g_subprocess_send_signal (w->process, SIGTERM);
}

GPid
mu_worker_get_pid (MuWorker *w)
{
	return w->pid;
}

void
mu_worker_free (MuWorker *w)
{
	if (w == NULL)
		return;
	if (w->cancellable != NULL)
		g_cancellable_cancel (w->cancellable);
	if (w->process != NULL && w->pid != 0)
		g_subprocess_force_exit (w->process);
	if (w->socket_source != NULL)
		g_source_destroy (w->socket_source);
	if (w->socket_fd >= 0)
		close (w->socket_fd);
	g_clear_object (&w->process);
	g_clear_object (&w->cancellable);
	g_clear_error (&w->result_error);
	g_clear_error (&w->violation_error);
	g_clear_pointer (&w->result_details, g_variant_unref);
	g_free (w);
}
