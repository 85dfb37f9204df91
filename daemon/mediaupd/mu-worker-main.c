/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mu-boot-state.h"
#include "mu-bundle.h"
#include "mu-config.h"
#include "mu-engine.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-key.h"
#include "mu-unlock.h"
#include "mu-worker-main.h"
#include "mu-worker-proto.h"

typedef struct {
	gchar *mode;
	gchar *config_path;
	gchar *path;
	gchar *name;
	gint socket_fd;
	gint bundle_fd;
} Args;

typedef struct {
	const Args *args;
	const MuConfig *config;
	GCancellable *cancellable;
	GMainLoop *loop;
	GVariant *details;
	GError *error;
	gboolean ok;
	MuProgressState last; /* what was last sent */
	gboolean sent_any;
} Job;

static gboolean
send_bytes (int fd, GBytes *bytes)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data (bytes, &len);
	ssize_t n;

	do
		n = send (fd, data, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (gsize) n != len) {
		g_warning ("worker: cannot report to the daemon: %s",
			   n < 0 ? g_strerror (errno) : "short write");
		return FALSE;
	}
	return TRUE;
}

/* Called on the engine's thread; only visible changes are sent. */
static void
on_progress (const MuProgressState *s, gpointer user_data)
{
	Job *job = user_data;
	g_autoptr (GBytes) bytes = NULL;

	if (job->sent_any && s->phase == job->last.phase && s->percentage == job->last.percentage &&
	    s->items_done == job->last.items_done && s->bytes_total == job->last.bytes_total &&
	    s->bytes_done - job->last.bytes_done < s->bytes_total / 100)
		return;
	job->last = *s;
	job->sent_any = TRUE;
	bytes = mu_worker_message_new_progress (s);
	(void) send_bytes (job->args->socket_fd, bytes);
}

static void
add_string (GVariantBuilder *b, const gchar *key, const gchar *value)
{
	if (value != NULL)
		g_variant_builder_add (b, "{sv}", key, g_variant_new_string (value));
}

static GVariant *
result_details (const MuInstallResult *r)
{
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	add_string (&b, "to-commit", r->to_commit);
	add_string (&b, "from-commit", r->from_commit);
	add_string (&b, "version", r->version);
	add_string (&b, "osname", r->osname);
	add_string (&b, "key-id", r->key_id);
	add_string (&b, "signing-key", r->signing_key_id);
	add_string (&b, "phase", mu_phase_to_string (r->failed_phase));
	g_variant_builder_add (&b, "{sv}", "timestamp", g_variant_new_uint64 (r->timestamp));
	g_variant_builder_add (&b, "{sv}", "keyslot", g_variant_new_int32 (r->keyslot));
	return g_variant_builder_end (&b);
}

/* The ids of the key files the device holds (ID.key), never their content. */
static GVariant *
device_key_ids (const MuConfig *config)
{
	g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

	for (guint i = 0; config->key_dirs[i] != NULL; i++) {
		g_autoptr (GDir) dir = g_dir_open (config->key_dirs[i], 0, NULL);
		const gchar *entry;

		while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL) {
			g_autofree gchar *id = NULL;

			if (!g_str_has_suffix (entry, ".key"))
				continue;
			id = g_strndup (entry, strlen (entry) - strlen (".key"));
			if (mu_key_id_is_valid (id) &&
			    !g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
				g_ptr_array_add (ids, g_steal_pointer (&id));
		}
	}
	g_ptr_array_sort (ids, (GCompareFunc) g_strcmp0);
	g_ptr_array_add (ids, NULL);
	return g_variant_new_strv ((const gchar *const *) ids->pdata, -1);
}

static gboolean
inspect (Job *job, GError **error)
{
	g_autoptr (MuBundle) bundle = NULL;
	g_autofree gchar *proc = NULL;
	g_autofree gchar *format = NULL;
	g_autoptr (GVariant) device_ids = NULL;
	const MuBundleInfo *info;
	GVariantBuilder b, slots, ids;
	const gchar *name = job->args->name;

	if (!mu_unlock_check_candidate_fd (job->args->bundle_fd, name, job->config->bundle_max_size,
					   NULL, error))
		return FALSE;
	proc = g_strdup_printf ("/proc/self/fd/%d", job->args->bundle_fd);
	bundle = mu_bundle_open_device (proc, name, error);
	if (bundle == NULL)
		return FALSE;
	info = mu_bundle_get_info (bundle);
	device_ids = g_variant_ref_sink (device_key_ids (job->config));
	format = g_strdup_printf ("mediaupd-v%u", info->format_version);
	g_variant_builder_init (&slots, G_VARIANT_TYPE ("ai"));
	g_variant_builder_init (&ids, G_VARIANT_TYPE ("as"));
	for (guint i = 0; i < info->keyslots->len && i < MU_WORKER_ARRAY_MAX; i++) {
		const MuBundleKeyslot *ks = info->keyslots->pdata[i];

		g_variant_builder_add (&slots, "i", ks->slot);
		if (ks->key_id != NULL) {
			g_autofree gchar *escaped = mu_escape_untrusted (ks->key_id);

			g_variant_builder_add (&ids, "s", escaped);
		}
	}
	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	add_string (&b, "format", format);
	{
		g_autofree gchar *label = mu_escape_untrusted (info->label);
		g_autofree gchar *subsystem = mu_escape_untrusted (info->subsystem);

		add_string (&b, "label", label);
		add_string (&b, "subsystem", subsystem);
	}
	g_variant_builder_add (&b, "{sv}", "size", g_variant_new_uint64 (info->file_size));
	g_variant_builder_add (&b, "{sv}", "keyslots", g_variant_builder_end (&slots));
	g_variant_builder_add (&b, "{sv}", "key_ids", g_variant_builder_end (&ids));
	g_variant_builder_add (&b, "{sv}", "device_key_ids", g_steal_pointer (&device_ids));
	job->details = g_variant_ref_sink (g_variant_builder_end (&b));
	return TRUE;
}

static gboolean
job_done (gpointer data)
{
	Job *job = data;

	g_main_loop_quit (job->loop);
	return G_SOURCE_REMOVE;
}

static gpointer
job_thread (gpointer data)
{
	Job *job = data;
	const Args *a = job->args;
	g_autoptr (MuProgress) progress = mu_progress_new (on_progress, job);
	g_auto (MuInstallResult) result = { 0 };
	const gchar *name = a->path != NULL ? a->path : a->name;

	if (g_str_equal (a->mode, "inspect")) {
		job->ok = inspect (job, &job->error);
	} else {
		/* The boot counter is armed before the deploy, here, with the state file
		 * the daemon reads again when this process has ended. */
		MuBootDeploy deploy = {
			.backend = mu_boot_backend_get_by_name (job->config->boot_backend),
			.config = job->config,
		};
		MuEngineDeployHooks hooks;

		g_assert (deploy.backend != NULL); /* the configuration admits known names only */
		mu_boot_deploy_hooks_init (&deploy, &hooks);
		if (g_str_equal (a->mode, "check"))
			job->ok = mu_engine_check (job->config, name, a->bundle_fd, progress,
						   &result, job->cancellable, &job->error);
		else if (a->bundle_fd >= 0)
			job->ok = mu_engine_install_fd (job->config, a->bundle_fd, name, &hooks,
							progress, &result, job->cancellable,
							&job->error);
		else
			job->ok = mu_engine_install (job->config, name, &hooks, progress, &result,
						     job->cancellable, &job->error);
		job->details = g_variant_ref_sink (result_details (&result));
		mu_boot_deploy_clear (&deploy);
	}
	g_idle_add (job_done, job);
	return NULL;
}

/* SIGTERM, SIGINT, SIGHUP: stop at the next safe point; the engine undoes what it did. */
static gboolean
on_signal (gpointer data)
{
	Job *job = data;

	g_cancellable_cancel (job->cancellable);
	return G_SOURCE_CONTINUE;
}

/*
 * Mounts made here (the bundle's inner image) stay in this process's own namespace, and
 * nothing mounted here propagates back to the system's.
 */
static gboolean
private_namespace (GError **error)
{
	if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot make a mount namespace of its own: %s (the daemon must run "
			     "as root)",
			     g_strerror (saved));
		return FALSE;
	}
	return TRUE;
}

static gboolean
parse_args (int argc, char **argv, Args *a, GError **error)
{
	GOptionEntry entries[] = {
		{ "worker", 0, 0, G_OPTION_ARG_STRING, &a->mode, NULL, NULL },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &a->config_path, NULL, NULL },
		{ "path", 0, 0, G_OPTION_ARG_FILENAME, &a->path, NULL, NULL },
		{ "name", 0, 0, G_OPTION_ARG_STRING, &a->name, NULL, NULL },
		{ "socket-fd", 0, 0, G_OPTION_ARG_INT, &a->socket_fd, NULL, NULL },
		{ "bundle-fd", 0, 0, G_OPTION_ARG_INT, &a->bundle_fd, NULL, NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
	const gchar *modes[] = { "install", "check", "inspect", NULL };

	a->socket_fd = -1;
	a->bundle_fd = -1;
	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_help_enabled (ctx, FALSE);
	if (!g_option_context_parse (ctx, &argc, &argv, error))
		return FALSE;
	if (a->mode == NULL || !g_strv_contains (modes, a->mode) || a->socket_fd < 0 ||
	    (a->path == NULL) == (a->bundle_fd < 0) ||
	    (g_str_equal (a->mode, "inspect") && a->bundle_fd < 0) || argc != 1) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "usage: --worker install|check|inspect --socket-fd N "
				     "(--bundle-fd N --name NAME | --path FILE) [--config FILE]");
		return FALSE;
	}
	if (a->name == NULL)
		a->name = g_strdup (a->path != NULL ? a->path : "bundle");
	return TRUE;
}

static void
args_clear (Args *a)
{
	g_free (a->mode);
	g_free (a->config_path);
	g_free (a->path);
	g_free (a->name);
}

int
mu_worker_main (int argc, char **argv)
{
	Args args = { 0 };
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = NULL;
	g_autoptr (GBytes) message = NULL;
	Job job = { 0 };
	guint sources[3];
	const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	int status;

	/* This process holds the device keys: no core dump, no ptrace; and it stops when the
	 * daemon goes. */
	(void) prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void) prctl (PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (!parse_args (argc, argv, &args, &error)) {
		g_printerr ("mediaupd worker: %s\n", error->message);
		args_clear (&args);
		return 2;
	}
	job.args = &args;
	config = mu_config_new_from_file (args.config_path != NULL ? args.config_path
								   : MU_CONFIG_DEFAULT_PATH,
					  args.config_path == NULL, &error);
	if (config == NULL || !private_namespace (&error)) {
		message = mu_worker_message_new_result (error, NULL);
		status = send_bytes (args.socket_fd, message) ? 0 : 1;
		args_clear (&args);
		return status;
	}
	job.config = config;
	job.cancellable = g_cancellable_new ();
	job.loop = g_main_loop_new (NULL, FALSE);
	for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
		sources[i] = g_unix_signal_add (signals[i], on_signal, &job);
	{
		g_autoptr (GThread) thread = g_thread_new ("mediaupd-worker", job_thread, &job);

		g_main_loop_run (job.loop);
		g_thread_join (g_steal_pointer (&thread));
	}
	for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
		g_source_remove (sources[i]);
	message = mu_worker_message_new_result (job.ok ? NULL : job.error, job.details);
	status = send_bytes (args.socket_fd, message) ? 0 : 1;
	g_clear_error (&job.error);
	g_clear_pointer (&job.details, g_variant_unref);
	g_clear_object (&job.cancellable);
	g_clear_pointer (&job.loop, g_main_loop_unref);
	args_clear (&args);
	return status;
}
