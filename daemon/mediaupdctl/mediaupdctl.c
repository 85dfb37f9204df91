/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mediaupdctl: the command line of mediaupd. For now it runs the engine in-process,
 * as root: `mediaupdctl apply --local FILE`.
 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "mu-config.h"
#include "mu-engine.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-events.h"
#include "mu-lock.h"
#include "mu-json.h"

typedef struct {
	gboolean json;
	gboolean tty;
	gboolean closed; /* stdout's reader has gone */
	guint last_percentage;
	MuPhase last_phase;
} Output;

/*
 * Everything mediaupdctl prints goes through here. When the reader of stdout has gone
 * (`mediaupdctl apply --local ... --json | head -1`: EPIPE, SIGPIPE being ignored), nothing
 * more is printed, but the install goes on to its end as if nothing happened: stopping
 * it half-way would leave more to clean up than finishing, and the journal keeps the
 * whole record. The exit status is still the install's.
 */
static void G_GNUC_PRINTF (2, 3)
out_printf (Output *out, const gchar *format, ...)
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

/* A string member that may hold text from the medium: escaped, or null. */
static void
add_text (JsonBuilder *b, const gchar *name, const gchar *value)
{
	g_autofree gchar *escaped = value != NULL ? mu_escape_untrusted (value) : NULL;

	mu_json_builder_add_string_member (b, name, escaped);
}

static void
print_json_line (Output *out, JsonBuilder *builder)
{
	g_autoptr (JsonNode) root = json_builder_get_root (builder);
	g_autofree gchar *text = json_to_string (root, FALSE);

	out_printf (out, "%s\n", text);
}

static void
on_progress (const MuProgressState *s, gpointer user_data)
{
	Output *out = user_data;

	if (out->json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();

		/* One line per visible change, not per byte. */
		if (s->percentage == out->last_percentage && s->phase == out->last_phase)
			return;
		json_builder_begin_object (b);
		json_builder_set_member_name (b, "event");
		json_builder_add_string_value (b, "progress");
		json_builder_set_member_name (b, "phase");
		json_builder_add_string_value (b, mu_phase_to_string (s->phase));
		json_builder_set_member_name (b, "percentage");
		json_builder_add_int_value (b, s->percentage);
		json_builder_set_member_name (b, "bytes_done");
		json_builder_add_int_value (b, (gint64) s->bytes_done);
		json_builder_set_member_name (b, "bytes_total");
		json_builder_add_int_value (b, (gint64) s->bytes_total);
		json_builder_set_member_name (b, "parts_done");
		json_builder_add_int_value (b, s->items_done);
		json_builder_set_member_name (b, "parts_total");
		json_builder_add_int_value (b, s->items_total);
		json_builder_end_object (b);
		print_json_line (out, b);
	} else if (out->tty) {
		g_autofree gchar *detail = NULL;

		if (s->items_total > 0)
			detail = g_strdup_printf ("  part %u/%u, %.1f/%.1f MiB", s->items_done,
						  s->items_total, s->bytes_done / 1048576.0,
						  s->bytes_total / 1048576.0);
		out_printf (out, "\r[%3u%%] %-8s%-40s", s->percentage,
			    mu_phase_to_string (s->phase), detail != NULL ? detail : "");
	} else if (s->phase != out->last_phase) {
		out_printf (out, "%s...\n", mu_phase_to_string (s->phase));
	}
	out->last_percentage = s->percentage;
	out->last_phase = s->phase;
}

static void
print_result (Output *out, const MuInstallResult *r, const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	if (out->json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();

		json_builder_begin_object (b);
		mu_json_builder_add_string_member (b, "event", "result");
		json_builder_set_member_name (b, "success");
		json_builder_add_boolean_value (b, error == NULL);
		add_text (b, "bundle", r->bundle);
		add_text (b, "key_id", r->key_id);
		json_builder_set_member_name (b, "keyslot");
		json_builder_add_int_value (b, r->keyslot);
		add_text (b, "signing_key", r->signing_key_id);
		add_text (b, "osname", r->osname);
		add_text (b, "from_commit", r->from_commit);
		add_text (b, "to_commit", r->to_commit);
		add_text (b, "version", r->version);
		if (error != NULL) {
			mu_json_builder_add_string_member (b, "phase", mu_phase_to_string (r->failed_phase));
			mu_json_builder_add_string_member (b, "error",
				    error->domain == MU_ERROR
					    ? mu_error_code_to_name (error->code)
					    : mu_error_code_to_name (MU_ERROR_FAILED));
			add_text (b, "message", error->message);
		}
		json_builder_end_object (b);
		print_json_line (out, b);
		return;
	}
	if (out->tty)
		out_printf (out, "\n");
	if (error != NULL) {
		g_printerr ("Update failed: %s\n", mu_escape_untrusted_in (pool, error->message));
		return;
	}
	out_printf (out,
		    "Installed %s version %s (commit %s).\n"
		    "Opened with key '%s' (keyslot %d); signed by %s.\n"
		    "It starts at the next boot.\n",
		    mu_escape_untrusted_in (pool, r->osname),
		    r->version != NULL ? mu_escape_untrusted_in (pool, r->version) : "(none)",
		    mu_escape_untrusted_in (pool, r->to_commit),
		    mu_escape_untrusted_in (pool, r->key_id), r->keyslot,
		    mu_escape_untrusted_in (pool, r->signing_key_id));
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
	g_autofree GLogField *with_id = g_new (GLogField, n_fields + 1);
	g_autofree gchar *message = NULL;
	const gchar *domain = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		with_id[i] = fields[i];
		if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
		if (g_str_equal (fields[i].key, "MESSAGE") && message == NULL) {
			g_autofree gchar *raw = fields[i].length < 0
							? g_strdup (fields[i].value)
							: g_strndup (fields[i].value,
								     (gsize) fields[i].length);

			message = mu_escape_untrusted (raw);
			with_id[i].value = message;
			with_id[i].length = -1;
		}
	}
	if (g_log_writer_default_would_drop (level, domain))
		return G_LOG_WRITER_HANDLED;
	with_id[n_fields] = (GLogField){ "SYSLOG_IDENTIFIER", "mediaupd", -1 };
	(void) g_log_writer_journald (level, with_id, n_fields + 1, user_data);
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING |
		     G_LOG_LEVEL_DEBUG))
		return g_log_writer_standard_streams (level, with_id, n_fields, user_data);
	return G_LOG_WRITER_HANDLED;
}

/* The install runs in a worker thread; the main thread waits for it and for signals. */
typedef struct {
	const MuConfig *config;
	const gchar *bundle;
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

	job->ok = mu_engine_install (job->config, job->bundle, job->progress, job->result,
				     job->cancellable, &job->error);
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

static int
cmd_apply (int argc, char **argv)
{
	g_autofree gchar *local = NULL;
	g_autofree gchar *config_path = NULL;
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "local", 0, 0, G_OPTION_ARG_FILENAME, &local,
		  "Install this bundle file in-process (as root)", "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json,
		  "Print progress and the result as JSON lines", NULL },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Read this configuration instead of " MU_CONFIG_DEFAULT_PATH, "FILE" },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new ("--local FILE - install a bundle");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = NULL;
	g_autoptr (MuProgress) progress = NULL;
	g_autoptr (MuLock) lock = NULL;
	g_auto (MuInstallResult) result = { 0 };
	Output out = { 0 };
	Job job = { 0 };
	gboolean ok;

	/* A closed stdout is seen as EPIPE by out_printf(), not as a fatal signal. */
	signal (SIGPIPE, SIG_IGN);
	/* This process is about to hold the device keys: no core dump of it, ever. */
	(void) prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
	g_option_context_add_main_entries (ctx, entries, NULL);
	if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || local == NULL) {
		g_printerr ("%s\nUsage: mediaupdctl apply --local FILE [--json] [--config FILE]\n",
			    error != NULL ? error->message : "give the bundle with --local FILE");
		return 2;
	}
	config = mu_config_new_from_file (config_path != NULL ? config_path
							      : MU_CONFIG_DEFAULT_PATH,
					  config_path == NULL, &error);
	if (config == NULL) {
		g_printerr ("Configuration: %s\n", error->message);
		return 2;
	}
	out.json = json;
	out.tty = !json && isatty (STDOUT_FILENO);
	out.last_phase = MU_PHASE_IDLE;
	/* One install at a time (the daemon takes the same lock); under it, first remove
	 * what an install killed earlier left behind. */
	lock = mu_lock_acquire (config->runtime_dir, &error);
	if (lock == NULL) {
		result.bundle = g_strdup (local);
		result.keyslot = -1;
		mu_event_install_ended (MU_PHASE_IDLE, local, error);
		print_result (&out, &result, error);
		return 1;
	}
	mu_engine_cleanup_stale (config);
	progress = mu_progress_new (on_progress, &out);
	job.config = config;
	job.bundle = local;
	job.progress = progress;
	job.result = &result;
	ok = run_install (&job);
	print_result (&out, &result, ok ? NULL : job.error);
	g_clear_error (&job.error);
	return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
	setlocale (LC_ALL, "");
	g_log_set_writer_func (log_writer, NULL, NULL);
	if (argc >= 2 && g_str_equal (argv[1], "apply"))
		return cmd_apply (argc - 1, argv + 1);
	if (argc >= 2 && g_str_equal (argv[1], "--version")) {
		g_print ("mediaupdctl %s%s\n", PACKAGE_VERSION,
			 MEDIAUPD_TEST_HOOKS ? " (test hooks: not for a product)" : "");
		return 0;
	}
	g_printerr ("Usage: mediaupdctl COMMAND [OPTIONS]\n\n"
		    "Commands:\n"
		    "  apply --local FILE [--json] [--config FILE]   install a bundle (as root)\n");
	return (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
		       ? 0
		       : 2;
}
