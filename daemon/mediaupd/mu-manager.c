/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "mu-blacklist.h"
#include "mu-boot-state.h"
#include "mu-candidates.h"
#include "mu-daemon-state.h"
#include "mu-dbus-manager.h"
#include "mu-engine.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-events.h"
#include "mu-manager.h"
#include "mu-ostree.h"
#include "mu-queue.h"
#include "mu-worker.h"

/* Where the bundle came from in BundleFound and BundleSkipped for ApplyBundle. */
#define NO_MEDIUM "/"

typedef enum {
	JOB_APPLY,  /* ApplyBundle: a descriptor from a client */
	JOB_MEDIUM, /* a medium from the media source */
} JobKind;

typedef struct _Job Job;

/* A mount under way. The daemon keeps serving D-Bus meanwhile, and the job may end first
 * (the daemon stops): then a medium udisks2 did mount is unmounted again. */
typedef struct {
	Job *job; /* NULL once the job is gone */
	MuMediaSource *source;
	MuMedium *medium;
} PendingMount;

struct _Job {
	MuManager *manager;
	JobKind kind;
	GDBusMethodInvocation *invocation; /* JOB_APPLY: answered at the end (owned until) */
	int fd;                            /* JOB_APPLY */
	gchar *name;                       /* the bundle, for messages (escaped) */
	MuMedium *medium;                  /* JOB_MEDIUM */
	gchar *mount_path;
	PendingMount *pending_mount; /* while udisks2 mounts the medium */
	GPtrArray *candidates;       /* MuQueueCandidate*, JOB_MEDIUM */
	guint checking;              /* index of the candidate being checked */
	MuQueueCandidate *chosen;
	MuWorker *worker;
	MuPhase phase;
	gboolean cancelled;
	gboolean removed;
};

struct _MuManager {
	const MuConfig *config;
	gchar *config_path;
	GDBusConnection *bus;
	MuMediaSource *source;
	gulong added_id;
	gulong removed_id;
	MuDBusManager1 *skeleton;
	MuDaemonState *state;
	const MuBootBackend *boot;
	GQueue queue;           /* MuMedium* waiting */
	Job *job;               /* the running one */
	GPtrArray *inspections; /* MuWorker* of InspectBundle calls */
	gchar *agent;
	guint agent_watch;
	gchar *reboot_medium; /* after-removal: the medium whose removal reboots */
	gboolean reboot_wanted;
	gboolean rebooting;
	gboolean stopping;
	GSourceFunc stopped;
	gpointer stopped_data;
	gint64 last_status_us;
};

static void job_next (MuManager *m);
static void job_finish (Job *job, const GError *error, GVariant *details);

/* ---- properties ---- */

static void
notify_status (MuManager *m, const gchar *text, gboolean force)
{
	gint64 now = g_get_monotonic_time ();

	/* Throttled: systemd needs no more than a few status lines a second. */
	if (!force && now - m->last_status_us < G_USEC_PER_SEC / 2)
		return;
	m->last_status_us = now;
	(void) sd_notifyf (0, "STATUS=%s", text);
}

static const gchar *
state_of_phase (MuPhase phase)
{
	switch (phase) {
	case MU_PHASE_UNLOCK:
		return "unlocking";
	case MU_PHASE_VERIFY:
		return "verifying";
	case MU_PHASE_APPLY:
		return "applying";
	case MU_PHASE_DEPLOY:
		return "deploying";
	case MU_PHASE_FINISH:
		return "finishing";
	case MU_PHASE_DISCOVER:
	case MU_PHASE_CHECK:
	default:
		return "checking";
	}
}

static void
set_state (MuManager *m, const gchar *state)
{
	g_autofree gchar *status = NULL;

	if (g_strcmp0 (mu_dbus_manager1_get_state (m->skeleton), state) == 0)
		return;
	mu_dbus_manager1_set_state (m->skeleton, state);
	status = g_strdup_printf ("State: %s", state);
	notify_status (m, status, TRUE);
}

static void
set_progress (MuManager *m, const MuProgressState *s)
{
	const gchar *phase = s != NULL && s->phase != MU_PHASE_IDLE ? mu_phase_to_string (s->phase)
								    : "";

	mu_dbus_manager1_set_progress (m->skeleton, g_variant_new ("(sutt)", phase,
								   s != NULL ? s->percentage : 0,
								   s != NULL ? s->bytes_done : 0,
								   s != NULL ? s->bytes_total : 0));
}

static void
refresh_sysroot (MuManager *m)
{
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GError) error = NULL;

	if (!mu_ostree_read_status (m->config->sysroot, &status, &error))
		g_debug ("no OSTree status of %s: %s", m->config->sysroot, error->message);
#define S(x) ((x) != NULL ? (x) : "")
	mu_dbus_manager1_set_current_commit (m->skeleton, S (status.current_commit));
	mu_dbus_manager1_set_current_version (m->skeleton, S (status.current_version));
	mu_dbus_manager1_set_pending_commit (m->skeleton, S (status.pending_commit));
	mu_dbus_manager1_set_pending_version (m->skeleton, S (status.pending_version));
#undef S
}

/* The state between installs. */
static void
set_rest_state (MuManager *m)
{
	if (m->rebooting)
		set_state (m, "rebooting");
	else if (*mu_dbus_manager1_get_pending_commit (m->skeleton) != '\0' ||
		 m->reboot_medium != NULL || m->reboot_wanted)
		set_state (m, "pending-reboot");
	else
		set_state (m, "idle");
}

static void
publish_queue (MuManager *m)
{
	g_autoptr (GPtrArray) ids = g_ptr_array_new ();

	for (GList *l = m->queue.head; l != NULL; l = l->next)
		g_ptr_array_add (ids, ((MuMedium *) l->data)->id);
	g_ptr_array_add (ids, NULL);
	mu_dbus_manager1_set_queued_media (m->skeleton, (const gchar *const *) ids->pdata);
}

static void
publish_last_error (MuManager *m)
{
	mu_dbus_manager1_set_last_error (m->skeleton, g_variant_new ("(ss)", m->state->error_name,
								     m->state->message));
}

/* The boot counter and what the state and the blacklist say, as properties. */
static void
publish_boot (MuManager *m)
{
	MuBootCounter counter = { .limit = m->config->boot_limit };
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) entries = mu_blacklist_load (m->config->state_dir, &error);
	g_autoptr (GPtrArray) commits = NULL;

	if (entries == NULL) {
		g_warning ("%s", error->message);
		g_clear_error (&error);
		entries = g_ptr_array_new ();
	}
	commits = mu_blacklist_commits (entries);
	if (!m->boot->read (m->config, &counter, &error)) {
		g_warning ("boot counter (%s): %s", m->boot->name, error->message);
		counter = (MuBootCounter){ .limit = m->config->boot_limit };
	}
#define S(x) ((x) != NULL ? (x) : "")
	mu_dbus_manager1_set_boot_counter (m->skeleton,
					   g_variant_new ("(buu)", counter.armed, counter.count,
							  counter.limit));
	mu_dbus_manager1_set_last_good_commit (m->skeleton, S (m->state->last_good_commit));
	mu_dbus_manager1_set_rolled_back_from (m->skeleton,
					       g_variant_new ("(ss)",
							      S (m->state->rolled_back_commit),
							      S (m->state->rolled_back_version)));
#undef S
	mu_dbus_manager1_set_blacklist (m->skeleton, (const gchar *const *) commits->pdata);
}

static void
save_state (MuManager *m)
{
	g_autoptr (GError) error = NULL;

	if (!mu_daemon_state_save (m->state, m->config->state_dir, &error))
		g_warning ("%s", error->message);
}

/*
 * An install's worker records its pending deployment in the state file itself: every
 * change here starts from the file, under its lock (dropped by the caller after
 * save_state()).
 */
static MuLock *
state_begin (MuManager *m)
{
	g_autoptr (GError) error = NULL;
	MuLock *lock = mu_daemon_state_lock (m->config->state_dir, &error);

	if (lock == NULL)
		g_warning ("%s", error->message);
	mu_daemon_state_free (m->state);
	m->state = mu_daemon_state_load (m->config->state_dir);
	return lock;
}

/* The sysroot for the boot-state decisions; FALSE where there is no OSTree system. */
static gboolean
read_boot_system (MuManager *m, MuOstreeStatus *status, MuBootSystem *out_system, GError **error)
{
	if (!mu_boot_system_read (m->config->sysroot, status, out_system, error))
		return FALSE;
	out_system->installing = m->job != NULL;
	return TRUE;
}

/* ---- reboot ---- */

static void
on_reboot_started (GObject *source, GAsyncResult *res, gpointer user_data)
{
	MuManager *m = user_data;
	g_autoptr (GVariant) reply = NULL;
	g_autoptr (GError) error = NULL;

	reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
	if (reply != NULL)
		return;
	g_warning ("cannot reboot through systemd: %s; restart the device by hand", error->message);
	m->rebooting = FALSE;
	if (m->job == NULL)
		set_rest_state (m);
}

/* Through systemd's D-Bus API, which is there on every device (logind need not be). */
static void
reboot_now (MuManager *m, const gchar *reason)
{
	if (m->rebooting)
		return;
	m->rebooting = TRUE;
	m->reboot_wanted = FALSE;
	mu_event_rebooting (reason);
	set_state (m, "rebooting");
	g_dbus_connection_call (m->bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				"org.freedesktop.systemd1.Manager", "StartUnit",
				g_variant_new ("(ss)", "reboot.target", "replace-irreversibly"),
				G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
				on_reboot_started, m);
}

/* After a successful install from a medium, unless an agent decides. */
static void
apply_reboot_policy (MuManager *m, Job *job, GVariant *details)
{
	const gchar *policy = m->config->reboot_policy;
	const gchar *commit = NULL;
	const gchar *version = NULL;

	if (m->agent != NULL) {
		g_info ("an agent is registered (%s): it decides about the reboot", m->agent);
		return;
	}
	if (g_str_equal (policy, "never"))
		return;
	/* A medium pulled while the deploy ran to its end is already removed. */
	if (g_str_equal (policy, "immediate") || job->removed) {
		m->reboot_wanted = TRUE;
		return;
	}
	(void) g_variant_lookup (details, "to-commit", "&s", &commit);
	(void) g_variant_lookup (details, "version", "&s", &version);
	g_free (m->reboot_medium);
	m->reboot_medium = g_strdup (job->medium->id);
	mu_event_reboot_pending (job->medium->id, commit, version);
}

/* ---- jobs ---- */

static void
job_free (Job *job)
{
	if (job->fd >= 0)
		close (job->fd);
	if (job->invocation != NULL)
		g_dbus_method_invocation_return_error_literal (job->invocation, MU_ERROR,
							       MU_ERROR_CANCELLED,
							       "the daemon stopped");
	g_free (job->name);
	g_clear_pointer (&job->medium, mu_medium_unref);
	g_free (job->mount_path);
	if (job->pending_mount != NULL)
		job->pending_mount->job = NULL;
	g_clear_pointer (&job->candidates, g_ptr_array_unref);
	g_clear_pointer (&job->worker, mu_worker_free);
	g_free (job);
}

static void
on_worker_progress (MuWorker *worker, const MuProgressState *s, gpointer user_data)
{
	Job *job = user_data;
	MuManager *m = job->manager;
	g_autofree gchar *status = NULL;

	/* Where the install was when it ended: finish is only the teardown after it. */
	if (s->phase != MU_PHASE_FINISH)
		job->phase = s->phase;
	set_state (m, state_of_phase (s->phase));
	set_progress (m, s);
	status = g_strdup_printf ("Installing: %s %u%%", mu_phase_to_string (s->phase),
				  s->percentage);
	notify_status (m, status, FALSE);
}

static void on_install_done (MuWorker *worker, const GError *error, GVariant *details,
			     gboolean clean, gpointer user_data);
static void on_check_done (MuWorker *worker, const GError *error, GVariant *details, gboolean clean,
			   gpointer user_data);

static gboolean
start_worker (Job *job, MuWorkerMode mode, const gchar *path, GError **error)
{
	MuWorkerOptions options = {
		.mode = mode,
		.config_path = job->manager->config_path,
		.path = path,
		.fd = path == NULL ? job->fd : -1,
		.name = job->name,
		.progress = on_worker_progress,
		.done = mode == MU_WORKER_CHECK ? on_check_done : on_install_done,
		.user_data = job,
	};

	job->worker = mu_worker_start (&options, error);
	return job->worker != NULL;
}

/* A worker that died may have left mounts, mappings and loop devices. */
static void
after_worker (MuManager *m, const GError *error, gboolean clean)
{
	if (clean)
		return;
	g_info ("the install process did not end cleanly; removing what it left");
	mu_engine_cleanup_stale (m->config);
}

static void
on_install_done (MuWorker *worker, const GError *error, GVariant *details, gboolean clean,
		 gpointer user_data)
{
	Job *job = user_data;

	after_worker (job->manager, error, clean);
	job_finish (job, error, details);
}

static void
report_skipped (Job *job, const gchar *name, const GError *error)
{
	MuManager *m = job->manager;
	g_autofree gchar *name_e = mu_escape_untrusted (name);
	g_autofree gchar *message_e = mu_escape_untrusted (error->message);
	g_autofree gchar *error_name =
		g_strconcat (MU_ERROR_DBUS_PREFIX,
			     mu_error_code_to_name (error->domain == MU_ERROR ? error->code
									      : MU_ERROR_FAILED),
			     NULL);

	mu_event_bundle_skipped (job->medium->id, name, error);
	mu_dbus_manager1_emit_bundle_skipped (m->skeleton, job->medium->id, name_e, error_name,
					      message_e);
}

/* Several bundles on one medium, each checked: the newest valid one is installed. */
static void
choose_and_install (Job *job)
{
	MuQueueCandidate *chosen = mu_queue_choose (job->candidates);
	/* With none to install, one bundle's reason is the medium's result. */
	MuQueueCandidate *reported = chosen != NULL ? chosen
						    : mu_queue_choose_failure (job->candidates);
	g_autoptr (GError) error = NULL;

	for (guint i = 0; i < job->candidates->len; i++) {
		MuQueueCandidate *c = job->candidates->pdata[i];

		if (c == reported)
			continue;
		if (c->error == NULL)
			c->error =
				g_error_new (MU_ERROR, MU_ERROR_SUPERSEDED,
					     "'%s' on the same medium is newer or as new, and is "
					     "installed instead",
					     chosen->name);
		report_skipped (job, c->name, c->error);
	}
	g_free (job->name);
	job->name = g_strdup (reported->name);
	if (chosen == NULL) {
		job_finish (job, reported->error, NULL);
		return;
	}
	job->chosen = chosen;
	if (!start_worker (job, MU_WORKER_INSTALL, chosen->path, &error))
		job_finish (job, error, NULL);
}

static void
check_next (Job *job)
{
	g_autoptr (GError) error = NULL;
	MuQueueCandidate *c;

	if (job->checking >= job->candidates->len) {
		choose_and_install (job);
		return;
	}
	c = job->candidates->pdata[job->checking];
	if (!start_worker (job, MU_WORKER_CHECK, c->path, &error))
		job_finish (job, error, NULL);
}

static void
on_check_done (MuWorker *worker, const GError *error, GVariant *details, gboolean clean,
	       gpointer user_data)
{
	Job *job = user_data;
	MuQueueCandidate *c = job->candidates->pdata[job->checking];

	after_worker (job->manager, error, clean);
	g_clear_pointer (&job->worker, mu_worker_free);
	if (job->cancelled || job->removed) {
		g_autoptr (GError) stopped = g_error_new_literal (MU_ERROR, MU_ERROR_CANCELLED,
								  "check: the update was stopped");
		job_finish (job, stopped, NULL);
		return;
	}
	if (g_error_matches (error, MU_ERROR, MU_ERROR_WORKER_FAILED))
		mu_event_worker_failed (c->name, error);
	mu_queue_candidate_set_result (c, error, details);
	job->checking++;
	check_next (job);
}

/* Find the candidates on the mounted medium and announce them; FALSE with @error when
 * nothing can be tried. */
static gboolean
medium_find (Job *job, GError **error)
{
	MuManager *m = job->manager;
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;

	found = mu_candidates_find (m->config, job->mount_path, &rejected, error);
	if (found == NULL)
		return FALSE;
	for (guint i = 0; rejected != NULL && i < rejected->len; i++) {
		MuCandidateRejected *r = rejected->pdata[i];

		report_skipped (job, r->candidate->name, r->error);
	}
	job->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_queue_candidate_free);
	for (guint i = 0; i < found->len; i++) {
		MuCandidate *c = found->pdata[i];
		g_autofree gchar *name_e = mu_escape_untrusted (c->name);

		g_ptr_array_add (job->candidates,
				 mu_queue_candidate_new (c->name, c->path, c->size));
		mu_dbus_manager1_emit_bundle_found (m->skeleton, job->medium->id, name_e, c->size);
	}
	return TRUE;
}

static void
medium_release (Job *job)
{
	g_autoptr (GError) error = NULL;

	if (job->mount_path == NULL)
		return;
	if (!mu_media_source_unmount (job->manager->source, job->medium, &error)) {
		if (job->removed)
			g_debug ("unmount of a removed medium: %s", error->message);
		else
			g_warning ("cannot unmount %s: %s", job->medium->device, error->message);
	}
	g_clear_pointer (&job->mount_path, g_free);
}

static void
pending_mount_free (PendingMount *pm)
{
	g_object_unref (pm->source);
	mu_medium_unref (pm->medium);
	g_free (pm);
}

static void
on_medium_mounted (GObject *source, GAsyncResult *result, gpointer user_data)
{
	PendingMount *pm = user_data;
	Job *job = pm->job;
	g_autoptr (GError) error = NULL;
	g_autofree gchar *path = mu_media_source_mount_finish (pm->source, result, &error);

	if (job == NULL) {
		if (path != NULL && !mu_media_source_unmount (pm->source, pm->medium, &error))
			g_warning ("cannot unmount %s: %s", pm->medium->device, error->message);
		pending_mount_free (pm);
		return;
	}
	job->pending_mount = NULL;
	pending_mount_free (pm);
	if (path == NULL) {
		g_prefix_error (&error, "detect: ");
		job_finish (job, error, NULL);
		return;
	}
	job->mount_path = g_steal_pointer (&path);
	if (job->cancelled || job->removed) {
		g_autoptr (GError) stopped = g_error_new_literal (MU_ERROR, MU_ERROR_CANCELLED,
								  "detect: the update was stopped");
		job_finish (job, stopped, NULL);
		return;
	}
	if (!medium_find (job, &error)) {
		g_prefix_error (&error, "detect: ");
		job_finish (job, error, NULL);
		return;
	}
	if (job->candidates->len == 0) {
		g_autofree gchar *label = mu_escape_untrusted (job->medium->label);

		g_info ("no update bundle on %s (label '%s')", job->medium->device, label);
		job_finish (job, NULL, NULL);
		return;
	}
	if (job->candidates->len == 1) {
		MuQueueCandidate *c = job->candidates->pdata[0];

		job->chosen = c;
		g_free (job->name);
		job->name = g_strdup (c->name);
		if (!start_worker (job, MU_WORKER_INSTALL, c->path, &error))
			job_finish (job, error, NULL);
		return;
	}
	check_next (job);
}

/* The error that ends @job: the medium's removal wins over what the worker saw of it. */
static GError *
final_error (Job *job, const GError *error)
{
	if (error == NULL)
		return NULL;
	/* The engine saw it itself (and logged it): its message says more. */
	if (job->removed && !g_error_matches (error, MU_ERROR, MU_ERROR_MEDIA_REMOVED))
		return g_error_new (MU_ERROR, MU_ERROR_MEDIA_REMOVED,
				    "%s: the medium was removed during the update; nothing was "
				    "installed",
				    mu_phase_to_string (job->phase));
	if (error->domain != MU_ERROR)
		return g_error_new_literal (MU_ERROR, MU_ERROR_FAILED, error->message);
	return g_error_copy (error);
}

static void
record_result (MuManager *m, Job *job, const GError *error)
{
	g_autofree gchar *message = error != NULL ? mu_escape_untrusted (error->message) : NULL;
	/* Held to the end of the function: the state is loaded, edited and saved under it. */
	G_GNUC_UNUSED g_autoptr (MuLock) lock = state_begin (m);

	g_free (m->state->error_name);
	g_free (m->state->message);
	g_free (m->state->bundle);
	m->state->error_name = error != NULL
				       ? g_strconcat (MU_ERROR_DBUS_PREFIX,
						      mu_error_code_to_name (error->code), NULL)
				       : g_strdup ("");
	m->state->message = g_strdup (message != NULL ? message : "");
	m->state->bundle = g_strdup (job->name != NULL ? job->name : "");
	m->state->time_us = g_get_real_time ();
	save_state (m);
	publish_boot (m);
	publish_last_error (m);
	mu_dbus_manager1_emit_completed (m->skeleton, error == NULL, m->state->error_name,
					 m->state->message);
}

static void
job_finish (Job *job, const GError *worker_error, GVariant *details)
{
	MuManager *m = job->manager;
	g_autoptr (GError) error = final_error (job, worker_error);
	gboolean installed = job->chosen != NULL || job->kind == JOB_APPLY;

	g_clear_pointer (&job->worker, mu_worker_free);
	if (job->kind == JOB_MEDIUM)
		medium_release (job);
	/* The worker armed the boot counter before its deploy and disarms it when the deploy
	 * fails; one stopped in between (killed, crashed) leaves that to here. */
	if (error != NULL && installed) {
		g_autoptr (GError) abort_error = NULL;

		if (!mu_boot_abort_stale (m->boot, m->config, &abort_error))
			g_warning ("%s; tried again at the next start", abort_error->message);
	}
	/* The worker logged its own outcome; these are the daemon's, once per install. */
	if (error != NULL && error->code == MU_ERROR_MEDIA_REMOVED &&
	    !g_error_matches (worker_error, MU_ERROR, MU_ERROR_MEDIA_REMOVED))
		mu_event_install_ended (job->phase, job->name, error);
	else if (error != NULL && error->code == MU_ERROR_WORKER_FAILED)
		mu_event_worker_failed (job->name, error);
	if (installed || error != NULL)
		record_result (m, job, error);
	if (job->kind == JOB_APPLY) {
		if (error != NULL) {
			g_autofree gchar *message = mu_escape_untrusted (error->message);

			g_dbus_method_invocation_return_error_literal (g_steal_pointer (
									       &job->invocation),
								       MU_ERROR, error->code,
								       message);
		} else {
			mu_dbus_manager1_complete_apply_bundle (m->skeleton,
								g_steal_pointer (&job->invocation));
		}
	} else if (error == NULL && job->chosen != NULL) {
		apply_reboot_policy (m, job, details);
	}
	refresh_sysroot (m);
	set_progress (m, NULL);
	m->job = NULL;
	job_free (job);
	if (m->reboot_wanted && m->agent == NULL)
		reboot_now (m, "the install from the medium ended");
	job_next (m);
}

static void
job_next (MuManager *m)
{
	Job *job;

	if (m->job != NULL)
		return;
	if (m->stopping) {
		if (m->stopped != NULL)
			g_idle_add (g_steal_pointer (&m->stopped), m->stopped_data);
		return;
	}
	if (g_queue_is_empty (&m->queue) || m->rebooting) {
		set_rest_state (m);
		notify_status (m, "Waiting for an update medium", TRUE);
		return;
	}
	job = g_new0 (Job, 1);
	job->manager = m;
	job->kind = JOB_MEDIUM;
	job->fd = -1;
	job->medium = g_queue_pop_head (&m->queue);
	job->name = g_strdup (job->medium->device);
	publish_queue (m);
	m->job = job;
	set_state (m, "checking");
	job->pending_mount = g_new0 (PendingMount, 1);
	job->pending_mount->job = job;
	job->pending_mount->source = g_object_ref (m->source);
	job->pending_mount->medium = mu_medium_ref (job->medium);
	mu_media_source_mount_async (m->source, job->medium, NULL, on_medium_mounted,
				     job->pending_mount);
}

/* ---- media ---- */

static gint
same_medium (gconstpointer a, gconstpointer b)
{
	return g_strcmp0 (((const MuMedium *) a)->id, ((const MuMedium *) b)->id);
}

static void
on_medium_added (MuMediaSource *source, MuMedium *medium, gpointer user_data)
{
	MuManager *m = user_data;

	if (m->stopping)
		return;
	if (!g_variant_is_object_path (medium->id)) {
		g_warning ("ignoring a medium with the id '%s', not a D-Bus object path",
			   medium->id);
		return;
	}
	/* Announced again while known (a source that reports a change as an addition). */
	if (g_queue_find_custom (&m->queue, medium, same_medium) != NULL ||
	    (m->job != NULL && m->job->kind == JOB_MEDIUM &&
	     g_strcmp0 (m->job->medium->id, medium->id) == 0))
		return;
	g_info ("medium %s (%s) added", medium->device, medium->bus);
	g_queue_push_tail (&m->queue, mu_medium_ref (medium));
	publish_queue (m);
	job_next (m);
}

static void
on_medium_removed (MuMediaSource *source, MuMedium *medium, gpointer user_data)
{
	MuManager *m = user_data;
	GList *queued = g_queue_find_custom (&m->queue, medium, same_medium);

	if (queued != NULL) {
		g_info ("queued medium %s removed", medium->device);
		mu_medium_unref (queued->data);
		g_queue_delete_link (&m->queue, queued);
		publish_queue (m);
	}
	if (m->job != NULL && m->job->kind == JOB_MEDIUM &&
	    g_strcmp0 (m->job->medium->id, medium->id) == 0) {
		g_info ("medium %s removed during the update: stopping it", medium->device);
		m->job->removed = TRUE;
		if (m->job->worker != NULL)
			mu_worker_cancel (m->job->worker);
	}
	if (g_strcmp0 (m->reboot_medium, medium->id) == 0) {
		g_clear_pointer (&m->reboot_medium, g_free);
		if (m->agent != NULL) {
			set_rest_state (m);
			return;
		}
		m->reboot_wanted = TRUE;
		if (m->job == NULL)
			reboot_now (m, "the medium was removed ([Reboot] Policy=after-removal)");
	}
}

/* ---- methods ---- */

static gboolean
refuse (GDBusMethodInvocation *invocation, MuErrorCode code, const gchar *message)
{
	g_dbus_method_invocation_return_error_literal (invocation, MU_ERROR, code, message);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The descriptor of argument @handle; -1 with the D-Bus error returned. */
static int
take_fd (GDBusMethodInvocation *invocation, GVariant *handle)
{
	GUnixFDList *list = g_dbus_message_get_unix_fd_list (
		g_dbus_method_invocation_get_message (invocation));
	g_autoptr (GError) error = NULL;
	int fd;

	if (list == NULL || g_variant_get_handle (handle) < 0 ||
	    g_variant_get_handle (handle) >= g_unix_fd_list_get_length (list)) {
		refuse (invocation, MU_ERROR_INVALID_ARGUMENT,
			"no file descriptor was passed with the call; open the bundle and pass "
			"the descriptor (type h)");
		return -1;
	}
	fd = g_unix_fd_list_get (list, g_variant_get_handle (handle), &error);
	if (fd < 0)
		refuse (invocation, MU_ERROR_INVALID_ARGUMENT, error->message);
	return fd;
}

/* What the client's descriptor refers to, for messages only: it is never opened. */
static gchar *
fd_name (int fd)
{
	g_autofree gchar *proc = g_strdup_printf ("/proc/self/fd/%d", fd);
	g_autofree gchar *target = g_file_read_link (proc, NULL);

	return mu_escape_untrusted (target != NULL ? target : "bundle");
}

static gboolean
on_apply_bundle (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation, GVariant *handle,
		 GVariant *options, gpointer user_data)
{
	MuManager *m = user_data;
	g_autoptr (GError) error = NULL;
	Job *job;
	int fd;

	if (g_variant_n_children (options) > 0) {
		g_autoptr (GVariant) first = g_variant_get_child_value (options, 0);
		const gchar *key = NULL;
		g_autofree gchar *message = NULL;

		g_variant_get (first, "{&sv}", &key, NULL);
		message = g_strdup_printf ("unknown option '%s'; ApplyBundle takes no options yet",
					   key);
		return refuse (invocation, MU_ERROR_INVALID_ARGUMENT, message);
	}
	if (m->stopping)
		return refuse (invocation, MU_ERROR_BUSY, "the daemon is stopping");
	if (m->job != NULL)
		return refuse (invocation, MU_ERROR_BUSY,
			       "another update is being installed; try again when it has ended");
	if (m->rebooting)
		return refuse (invocation, MU_ERROR_BUSY, "the device is rebooting");
	fd = take_fd (invocation, handle);
	if (fd < 0)
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	job = g_new0 (Job, 1);
	job->manager = m;
	job->kind = JOB_APPLY;
	job->fd = fd;
	job->name = fd_name (fd);
	job->invocation = invocation;
	m->job = job;
	set_state (m, "checking");
	{
		struct stat st;

		mu_dbus_manager1_emit_bundle_found (m->skeleton, NO_MEDIUM, job->name,
						    fstat (fd, &st) == 0 ? (guint64) st.st_size
									 : 0);
	}
	if (!start_worker (job, MU_WORKER_INSTALL, NULL, &error))
		job_finish (job, error, NULL);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

typedef struct {
	MuManager *manager;
	GDBusMethodInvocation *invocation;
	MuWorker *worker;
} Inspection;

static void
on_inspect_done (MuWorker *worker, const GError *error, GVariant *details, gboolean clean,
		 gpointer user_data)
{
	Inspection *in = user_data;
	MuManager *m = in->manager;

	if (error != NULL) {
		g_autofree gchar *message = mu_escape_untrusted (error->message);

		g_dbus_method_invocation_return_error_literal (in->invocation, MU_ERROR,
							       error->code, message);
	} else {
		mu_dbus_manager1_complete_inspect_bundle (m->skeleton, in->invocation, details);
	}
	in->invocation = NULL;
	g_ptr_array_remove (m->inspections, in);
}

static void
inspection_free (Inspection *in)
{
	if (in->invocation != NULL)
		g_dbus_method_invocation_return_error_literal (in->invocation, MU_ERROR,
							       MU_ERROR_CANCELLED,
							       "the daemon stopped");
	g_clear_pointer (&in->worker, mu_worker_free);
	g_free (in);
}

static gboolean
on_inspect_bundle (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation, GVariant *handle,
		   gpointer user_data)
{
	MuManager *m = user_data;
	g_autoptr (GError) error = NULL;
	g_autofree gchar *name = NULL;
	Inspection *in;
	MuWorkerOptions options = {
		.mode = MU_WORKER_INSPECT,
		.config_path = m->config_path,
		.done = on_inspect_done,
	};
	int fd;

	if (m->stopping)
		return refuse (invocation, MU_ERROR_BUSY, "the daemon is stopping");
	fd = take_fd (invocation, handle);
	if (fd < 0)
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	name = fd_name (fd);
	in = g_new0 (Inspection, 1);
	in->manager = m;
	in->invocation = invocation;
	options.fd = fd;
	options.name = name;
	options.user_data = in;
	in->worker = mu_worker_start (&options, &error);
	close (fd);
	if (in->worker == NULL) {
		g_free (in);
		return refuse (invocation, error->code, error->message);
	}
	g_ptr_array_add (m->inspections, in);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_cancel (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
	MuManager *m = user_data;

	if (m->job == NULL || m->job->worker == NULL)
		return refuse (invocation, MU_ERROR_NOT_RUNNING, "no update is being installed");
	g_info ("cancel requested by %s", g_dbus_method_invocation_get_sender (invocation));
	m->job->cancelled = TRUE;
	mu_worker_cancel (m->job->worker);
	mu_dbus_manager1_complete_cancel (skeleton, invocation);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_mark_boot_successful (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation,
			 gpointer user_data)
{
	MuManager *m = user_data;
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GError) error = NULL;
	g_autoptr (MuLock) lock = NULL;
	MuBootSystem system = { 0 };

	if (!read_boot_system (m, &status, &system, &error)) {
		g_autofree gchar *message =
			g_strdup_printf ("there is no booted OSTree deployment to mark good: %s",
					 error->message);

		return refuse (invocation, MU_ERROR_FAILED, message);
	}
	lock = state_begin (m);
	if (!mu_boot_mark_good (m->boot, m->config, m->state, &system, &error)) {
		publish_boot (m);
		return refuse (invocation,
			       error->domain == MU_ERROR ? error->code : MU_ERROR_FAILED,
			       error->message);
	}
	save_state (m);
	g_clear_pointer (&lock, mu_lock_release);
	publish_boot (m);
	mu_dbus_manager1_complete_mark_boot_successful (skeleton, invocation);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_clear_blacklist (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation,
		    const gchar *commit, gpointer user_data)
{
	MuManager *m = user_data;
	g_autoptr (GError) error = NULL;

	if (!mu_blacklist_clear (m->config->state_dir, *commit != '\0' ? commit : NULL, &error))
		return refuse (invocation,
			       error->domain == MU_ERROR ? error->code : MU_ERROR_FAILED,
			       error->message);
	g_info ("blacklist cleared by %s", g_dbus_method_invocation_get_sender (invocation));
	mu_event_blacklist_cleared (*commit != '\0' ? commit : NULL);
	publish_boot (m);
	mu_dbus_manager1_complete_clear_blacklist (skeleton, invocation);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
drop_agent (MuManager *m)
{
	if (m->agent_watch != 0)
		g_bus_unwatch_name (m->agent_watch);
	m->agent_watch = 0;
	g_clear_pointer (&m->agent, g_free);
	mu_dbus_manager1_set_agent (m->skeleton, "");
}

static void
on_agent_vanished (GDBusConnection *bus, const gchar *name, gpointer user_data)
{
	MuManager *m = user_data;

	g_info ("agent %s left the bus", name);
	drop_agent (m);
}

static gboolean
on_register_agent (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
	MuManager *m = user_data;
	const gchar *sender = g_dbus_method_invocation_get_sender (invocation);

	if (sender == NULL)
		return refuse (invocation, MU_ERROR_INVALID_ARGUMENT,
			       "an agent must have a bus name");
	if (m->agent != NULL && !g_str_equal (m->agent, sender)) {
		g_autofree gchar *message = g_strdup_printf ("another agent (%s) is registered",
							     m->agent);

		return refuse (invocation, MU_ERROR_BUSY, message);
	}
	if (m->agent == NULL) {
		m->agent = g_strdup (sender);
		m->agent_watch = g_bus_watch_name_on_connection (m->bus, sender,
								 G_BUS_NAME_WATCHER_FLAGS_NONE,
								 NULL, on_agent_vanished, m, NULL);
		mu_dbus_manager1_set_agent (skeleton, sender);
		g_info ("agent %s registered: it decides about reboots", sender);
	}
	mu_dbus_manager1_complete_register_agent (skeleton, invocation);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_unregister_agent (MuDBusManager1 *skeleton, GDBusMethodInvocation *invocation,
		     gpointer user_data)
{
	MuManager *m = user_data;
	const gchar *sender = g_dbus_method_invocation_get_sender (invocation);

	if (m->agent == NULL || g_strcmp0 (m->agent, sender) != 0)
		return refuse (invocation, MU_ERROR_NOT_RUNNING,
			       "the caller is not the registered agent");
	g_info ("agent %s unregistered", sender);
	drop_agent (m);
	mu_dbus_manager1_complete_unregister_agent (skeleton, invocation);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- life ---- */

static gboolean
undeploy (const gchar *sysroot, const gchar *commit, GError **error)
{
	guint removed = 0;

	if (!mu_ostree_undeploy (sysroot, commit, &removed, error))
		return FALSE;
	g_info ("removed %u deployment(s) of commit %s", removed, commit);
	return TRUE;
}

/* At start, before any install: did the boot loader give up on the last update, or did
 * an install stop between arming the counter and its deploy? */
static void
check_rollback (MuManager *m)
{
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GError) error = NULL;
	g_autoptr (MuLock) lock = NULL;
	MuBootSystem system = { 0 };
	MuBootVerdict verdict = MU_BOOT_NOTHING;

	if (m->state->pending_commit == NULL)
		return;
	if (!read_boot_system (m, &status, &system, &error)) {
		g_debug ("no OSTree status of %s: %s", m->config->sysroot, error->message);
		return;
	}
	lock = state_begin (m);
	if (!mu_boot_check_rollback (m->boot, m->config, m->state, &system, undeploy, &verdict,
				     &error)) {
		g_warning ("%s; tried again at the next start", error->message);
		return;
	}
	if (verdict == MU_BOOT_ROLLED_BACK)
		save_state (m);
	else if (verdict == MU_BOOT_TRIAL)
		g_info ("commit %s is on trial: it is marked good once the system booted fine",
			status.current_commit);
}

MuManager *
mu_manager_new (const MuConfig *config, const gchar *config_path, GDBusConnection *bus,
		MuMediaSource *source)
{
	MuManager *m = g_new0 (MuManager, 1);

	m->config = config;
	m->config_path = g_strdup (config_path);
	m->bus = g_object_ref (bus);
	m->source = source != NULL ? g_object_ref (source) : NULL;
	m->boot = mu_boot_backend_get_by_name (config->boot_backend);
	g_assert (m->boot != NULL); /* the configuration admits known names only */
	g_queue_init (&m->queue);
	m->inspections = g_ptr_array_new_with_free_func ((GDestroyNotify) inspection_free);
	m->state = mu_daemon_state_load (config->state_dir);
	m->skeleton = mu_dbus_manager1_skeleton_new ();
	mu_dbus_manager1_set_reboot_policy (m->skeleton, config->reboot_policy);
	mu_dbus_manager1_set_agent (m->skeleton, "");
	mu_dbus_manager1_set_boot_backend (m->skeleton, m->boot->name);
	check_rollback (m);
	publish_boot (m);
	publish_queue (m);
	publish_last_error (m);
	set_progress (m, NULL);
	refresh_sysroot (m);
	set_rest_state (m);
	g_signal_connect (m->skeleton, "handle-apply-bundle", G_CALLBACK (on_apply_bundle), m);
	g_signal_connect (m->skeleton, "handle-inspect-bundle", G_CALLBACK (on_inspect_bundle), m);
	g_signal_connect (m->skeleton, "handle-cancel", G_CALLBACK (on_cancel), m);
	g_signal_connect (m->skeleton, "handle-mark-boot-successful",
			  G_CALLBACK (on_mark_boot_successful), m);
	g_signal_connect (m->skeleton, "handle-clear-blacklist", G_CALLBACK (on_clear_blacklist),
			  m);
	g_signal_connect (m->skeleton, "handle-register-agent", G_CALLBACK (on_register_agent), m);
	g_signal_connect (m->skeleton, "handle-unregister-agent", G_CALLBACK (on_unregister_agent),
			  m);
	return m;
}

gboolean
mu_manager_start (MuManager *m, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (m->skeleton), m->bus,
						 MU_MANAGER_OBJECT_PATH, error);
}

gboolean
mu_manager_watch_media (MuManager *m, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (m->source == NULL)
		return TRUE;
	m->added_id = g_signal_connect (m->source, "added", G_CALLBACK (on_medium_added), m);
	m->removed_id = g_signal_connect (m->source, "removed", G_CALLBACK (on_medium_removed), m);
	return mu_media_source_start (m->source, error);
}

void
mu_manager_stop (MuManager *m, GSourceFunc done, gpointer user_data)
{
	m->stopping = TRUE;
	m->stopped = done;
	m->stopped_data = user_data;
	while (!g_queue_is_empty (&m->queue))
		mu_medium_unref (g_queue_pop_head (&m->queue));
	publish_queue (m);
	if (m->job == NULL) {
		job_next (m);
		return;
	}
	g_message ("stopping: the running update stops at its next safe point");
	m->job->cancelled = TRUE;
	if (m->job->worker != NULL)
		mu_worker_cancel (m->job->worker);
}

void
mu_manager_free (MuManager *m)
{
	if (m == NULL)
		return;
	if (m->source != NULL) {
		g_clear_signal_handler (&m->added_id, m->source);
		g_clear_signal_handler (&m->removed_id, m->source);
	}
	g_clear_pointer (&m->job, job_free);
	g_clear_pointer (&m->inspections, g_ptr_array_unref);
	while (!g_queue_is_empty (&m->queue))
		mu_medium_unref (g_queue_pop_head (&m->queue));
	if (m->agent_watch != 0)
		g_bus_unwatch_name (m->agent_watch);
	g_free (m->agent);
	g_free (m->reboot_medium);
	if (m->skeleton != NULL &&
	    g_dbus_interface_skeleton_get_object_path (G_DBUS_INTERFACE_SKELETON (m->skeleton)))
		g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (m->skeleton));
	g_clear_object (&m->skeleton);
	g_clear_pointer (&m->state, mu_daemon_state_free);
	g_clear_object (&m->source);
	g_clear_object (&m->bus);
	g_free (m->config_path);
	g_free (m);
}
