/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `mediaupdctl apply --local FILE`: the whole install in this process, as root, without
 * the daemon; its output (and its --json lines) stay as they are, scripts parse them.
 */
#include "config.h"

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "mu-boot-state.h"
#include "mu-config.h"
#include "mu-ctl.h"
#include "mu-engine.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-events.h"
#include "mu-json.h"
#include "mu-lock.h"
#include "mu-log.h"

typedef struct {
	MuCtlOut out;
	guint last_percentage;
	MuPhase last_phase;
} LocalOutput;

static void
print_json_line (MuCtlOut *out, JsonBuilder *builder)
{
	g_autofree gchar *text = mu_json_builder_to_line (builder);

	mu_ctl_out_printf (out, "%s\n", text);
}

static void
on_progress (const MuProgressState *s, gpointer user_data)
{
	LocalOutput *lo = user_data;
	MuCtlOut *out = &lo->out;

	if (out->json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();

		/* One line per visible change, not per byte. */
		if (s->percentage == lo->last_percentage && s->phase == lo->last_phase)
			return;
		json_builder_begin_object (b);
		mu_json_builder_add_string_member (b, "event", "progress");
		mu_json_builder_add_string_member (b, "phase", mu_phase_to_string (s->phase));
		mu_json_builder_add_int_member (b, "percentage", s->percentage);
		mu_json_builder_add_int_member (b, "bytes_done", (gint64) s->bytes_done);
		mu_json_builder_add_int_member (b, "bytes_total", (gint64) s->bytes_total);
		mu_json_builder_add_int_member (b, "parts_done", s->items_done);
		mu_json_builder_add_int_member (b, "parts_total", s->items_total);
		json_builder_end_object (b);
		print_json_line (out, b);
	} else if (out->tty) {
		g_autofree gchar *detail = NULL;

		if (s->items_total > 0)
			detail = g_strdup_printf ("  part %u/%u, %.1f/%.1f MiB", s->items_done,
						  s->items_total, s->bytes_done / 1048576.0,
						  s->bytes_total / 1048576.0);
		mu_ctl_out_printf (out, "\r[%3u%%] %-8s%-40s", s->percentage,
				   mu_phase_to_string (s->phase), detail != NULL ? detail : "");
	} else if (s->phase != lo->last_phase) {
		mu_ctl_out_printf (out, "%s...\n", mu_phase_to_string (s->phase));
	}
	lo->last_percentage = s->percentage;
	lo->last_phase = s->phase;
}

/* The boot counter armed before the deploy, as the daemon's boot-armed event says it. */
static void
on_armed (const gchar *commit, const gchar *version, const gchar *backend, gpointer user_data)
{
	LocalOutput *lo = user_data;
	g_autoptr (JsonBuilder) b = NULL;

	if (!lo->out.json)
		return;
	b = json_builder_new ();
	json_builder_begin_object (b);
	mu_json_builder_add_string_member (b, "event", "boot-armed");
	mu_json_builder_add_text_member (b, "commit", commit);
	mu_json_builder_add_text_member (b, "version", version);
	mu_json_builder_add_string_member (b, "backend", backend);
	json_builder_end_object (b);
	print_json_line (&lo->out, b);
}

static void
print_result (MuCtlOut *out, const MuInstallResult *r, const MuBootDeploy *deploy,
	      const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	const gchar *version;

	if (out->json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();

		json_builder_begin_object (b);
		mu_json_builder_add_string_member (b, "event", "result");
		mu_json_builder_add_boolean_member (b, "success", error == NULL);
		mu_json_builder_add_text_member (b, "bundle", r->bundle);
		mu_json_builder_add_text_member (b, "key_id", r->key_id);
		mu_json_builder_add_int_member (b, "keyslot", r->keyslot);
		mu_json_builder_add_int_member (b, "key_trials", r->key_trials);
		mu_json_builder_add_text_member (b, "signing_key", r->signing_key_id);
		mu_json_builder_add_text_member (b, "osname", r->osname);
		mu_json_builder_add_text_member (b, "from_commit", r->from_commit);
		mu_json_builder_add_text_member (b, "to_commit", r->to_commit);
		mu_json_builder_add_text_member (b, "version", r->version);
		json_builder_set_member_name (b, "boot");
		json_builder_begin_object (b);
		mu_json_builder_add_string_member (b, "backend", deploy->backend->name);
		mu_json_builder_add_boolean_member (b, "armed", deploy->armed);
		mu_json_builder_add_int_member (b, "limit", deploy->config->boot_limit);
		json_builder_end_object (b);
		if (error != NULL) {
			MuErrorCode code = error->domain == MU_ERROR ? (MuErrorCode) error->code
								     : MU_ERROR_FAILED;

			mu_json_builder_add_string_member (b, "phase",
							   mu_phase_to_string (r->failed_phase));
			mu_json_builder_add_string_member (b, "error",
							   mu_error_code_to_name (code));
			mu_json_builder_add_text_member (b, "message", error->message);
		}
		json_builder_end_object (b);
		print_json_line (out, b);
		return;
	}
	if (out->tty)
		mu_ctl_out_printf (out, "\n");
	if (error != NULL) {
		g_printerr ("Update failed: %s\n", mu_escape_untrusted_in (pool, error->message));
		return;
	}
	version = r->version != NULL ? mu_escape_untrusted_in (pool, r->version) : "(none)";
	mu_ctl_out_printf (out,
			   "Installed %s version %s (commit %s).\n"
			   "Opened with key '%s' (keyslot %d); signed by %s.\n"
			   "It starts at the next boot.\n",
			   mu_escape_untrusted_in (pool, r->osname), version,
			   mu_escape_untrusted_in (pool, r->to_commit),
			   mu_escape_untrusted_in (pool, r->key_id), r->keyslot,
			   mu_escape_untrusted_in (pool, r->signing_key_id));
	if (deploy->armed)
		mu_ctl_out_printf (out,
				   "Boot counter armed (%s): unless it reaches "
				   "mediaupd-boot-ok.target within %u boots, the device boots the "
				   "version that runs now again.\n",
				   deploy->backend->name, deploy->config->boot_limit);
}

/*
 * Events go to the journal whoever started the install, so that support staff find them
 * with journalctl as for the daemon; warnings also go to the terminal. Debug output only
 * when G_MESSAGES_DEBUG asks for it. Messages may quote names from the medium: escaped
 * on the way out, whatever logged them.
 */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	g_auto (MuLogRecord) record = { 0 };

	if (!mu_log_record_init (&record, level, fields, n_fields))
		return G_LOG_WRITER_HANDLED;
	(void) g_log_writer_journald (level, record.fields, record.n_fields, user_data);
	if (level &
	    (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_DEBUG))
		return g_log_writer_standard_streams (level, record.fields, record.n_fields,
						      user_data);
	return G_LOG_WRITER_HANDLED;
}

/* The install runs in a worker thread; the main thread waits for it and for signals. */
typedef struct {
	const MuConfig *config;
	const gchar *bundle;
	const MuEngineDeployHooks *hooks;
	MuProgress *progress;
	MuInstallResult *result;
	GCancellable *cancellable;
	GMainLoop *loop;
	GError *error;
	gboolean ok;
} Job;

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

	job->ok = mu_engine_install (job->config, job->bundle, job->hooks, job->progress,
				     job->result, job->cancellable, &job->error);
	/* Queued on the main context, never run here: an install that ends before the main
	 * thread runs its loop would otherwise quit the loop before it starts, and the loop
	 * would then wait forever. */
	g_idle_add (job_done, job);
	return NULL;
}

/* SIGINT, SIGTERM, SIGHUP: stop at the next safe point; the engine undoes what it did. */
static gboolean
on_signal (gpointer data)
{
	Job *job = data;

	if (!g_cancellable_is_cancelled (job->cancellable)) {
		g_printerr ("\nStopping the update at the next safe point...\n");
		g_cancellable_cancel (job->cancellable);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
run_install (Job *job)
{
	g_autoptr (GThread) thread = NULL;
	guint sources[3];
	const int signals[] = { SIGINT, SIGTERM, SIGHUP };

	job->loop = g_main_loop_new (NULL, FALSE);
	job->cancellable = g_cancellable_new ();
	for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
		sources[i] = g_unix_signal_add (signals[i], on_signal, job);
	thread = g_thread_new ("mediaupd-install", job_thread, job);
	g_main_loop_run (job->loop);
	g_thread_join (g_steal_pointer (&thread));
	for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
		g_source_remove (sources[i]);
	g_clear_object (&job->cancellable);
	g_clear_pointer (&job->loop, g_main_loop_unref);
	return job->ok;
}

int
mu_ctl_apply_local (const gchar *bundle, gboolean json, const gchar *config_path)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = NULL;
	g_autoptr (MuProgress) progress = NULL;
	g_autoptr (MuLock) lock = NULL;
	g_auto (MuInstallResult) result = { 0 };
	LocalOutput lo = { 0 };
	Job job = { 0 };
	MuBootDeploy deploy = { 0 };
	MuEngineDeployHooks hooks;
	gboolean ok;

	/* Events go to the journal, as the daemon's do. */
	g_log_set_writer_func (log_writer, NULL, NULL);
	/* This process is about to hold the device keys: no core dump of it, ever. */
	(void) prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
	config = mu_config_new_from_file (config_path != NULL ? config_path
							      : MU_CONFIG_DEFAULT_PATH,
					  config_path == NULL, &error);
	if (config == NULL) {
		g_printerr ("Configuration: %s\n", error->message);
		return MU_CTL_EXIT_USAGE;
	}
	mu_ctl_out_init (&lo.out, json);
	lo.last_phase = MU_PHASE_IDLE;
	/* The boot counter is armed before the deploy, as the daemon's install does. */
	deploy.backend = mu_boot_backend_get_by_name (config->boot_backend);
	deploy.config = config;
	deploy.on_armed = on_armed;
	deploy.user_data = &lo;
	g_assert (deploy.backend != NULL); /* the configuration admits known names only */
	mu_boot_deploy_hooks_init (&deploy, &hooks);
	/* One install at a time (the daemon takes the same lock); under it, first remove
	 * what an install killed earlier left behind. */
	lock = mu_lock_acquire (config->runtime_dir, &error);
	if (lock == NULL) {
		result.bundle = g_strdup (bundle);
		result.keyslot = -1;
		mu_event_install_ended (MU_PHASE_IDLE, bundle, error);
		print_result (&lo.out, &result, &deploy, error);
		return MU_CTL_EXIT_FAILED;
	}
	mu_engine_cleanup_stale (config);
	if (!mu_boot_abort_stale (deploy.backend, config, &error)) {
		g_warning ("%s", error->message);
		g_clear_error (&error);
	}
	progress = mu_progress_new (on_progress, &lo);
	job.config = config;
	job.bundle = bundle;
	job.hooks = &hooks;
	job.progress = progress;
	job.result = &result;
	ok = run_install (&job);
	print_result (&lo.out, &result, &deploy, ok ? NULL : job.error);
	g_clear_error (&job.error);
	mu_boot_deploy_clear (&deploy);
	return ok ? MU_CTL_EXIT_OK : MU_CTL_EXIT_FAILED;
}
