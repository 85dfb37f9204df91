/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-blacklist.h"
#include "mu-boot-state.h"
#include "mu-error.h"
#include "mu-events.h"
#include "mu-ostree.h"

gboolean
mu_boot_counter_exhausted (const MuBootCounter *counter)
{
	/* U-Boot's rule: altbootcmd once bootcount > bootlimit. */
	return counter->armed && counter->count > counter->limit;
}

static gboolean
none_nothing (const MuConfig *config, GError **error)
{
	return TRUE;
}

static gboolean
none_read (const MuConfig *config, MuBootCounter *out_counter, GError **error)
{
	*out_counter = (MuBootCounter){ .limit = config->boot_limit };
	return TRUE;
}

static const MuBootBackend backend_none = {
	.name = "none",
	.counts = FALSE,
	.arm = none_nothing,
	.disarm = none_nothing,
	.read = none_read,
};

static const MuBootBackend *const backends[] = {
	&backend_none,
	&mu_boot_backend_uboot,
	&mu_boot_backend_grub,
};

const MuBootBackend *
mu_boot_backend_get_by_name (const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS (backends); i++) {
		if (g_strcmp0 (backends[i]->name, name) == 0)
			return backends[i];
	}
	return NULL;
}

static void
set_string (gchar **field, const gchar *value)
{
	g_free (*field);
	*field = value != NULL && *value != '\0' ? g_strdup (value) : NULL;
}

static gboolean
save (const MuConfig *config, const MuDaemonState *state, GError **error)
{
	return mu_daemon_state_save (state, config->state_dir, error);
}

gboolean
mu_boot_system_read (const gchar *sysroot, MuOstreeStatus *status, MuBootSystem *out_system,
		     GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_ostree_read_status (sysroot, status, error))
		return FALSE;
	*out_system = (MuBootSystem){
		.booted_commit = status->current_commit,
		.waiting_commit = status->pending_commit,
		.waiting_version = status->pending_version,
		.deployed = (const gchar *const *) status->deployed_commits,
	};
	return TRUE;
}

const gchar *
mu_boot_verdict_to_string (MuBootVerdict verdict)
{
	switch (verdict) {
	case MU_BOOT_NOTHING:
		return "nothing";
	case MU_BOOT_WAITING:
		return "waiting";
	case MU_BOOT_TRIAL:
		return "trial";
	case MU_BOOT_ROLLED_BACK:
		return "rolled-back";
	case MU_BOOT_ABORTED:
		return "aborted";
	}
	return "unknown";
}

/* @commit is one of @system's deployments. */
static gboolean
is_deployed (const MuBootSystem *system, const gchar *commit)
{
	return commit != NULL &&
	       (g_strcmp0 (commit, system->booted_commit) == 0 ||
		g_strcmp0 (commit, system->waiting_commit) == 0 ||
		(system->deployed != NULL && g_strv_contains (system->deployed, commit)));
}

MuBootVerdict
mu_boot_decide (const MuDaemonState *state, const MuBootSystem *system,
		const MuBootCounter *counter)
{
	if (state->pending_commit == NULL || system->booted_commit == NULL)
		return MU_BOOT_NOTHING;
	if (g_str_equal (state->pending_commit, system->booted_commit))
		return MU_BOOT_TRIAL;
	/* Deployed, not booted: the default deployment, which boots next, unless the boot
	 * loader ran out of tries for it and booted the previous one. */
	if (is_deployed (system, state->pending_commit))
		return mu_boot_counter_exhausted (counter) ? MU_BOOT_ROLLED_BACK : MU_BOOT_WAITING;
	/* Armed, never deployed: an install stopped between the arming and the deploy
	 * (a power cut, a kill), or one still on its way to the deploy. */
	return system->installing ? MU_BOOT_WAITING : MU_BOOT_ABORTED;
}

gboolean
mu_boot_arm (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
	     const MuBootSystem *system, const gchar *commit, const gchar *version, GError **error)
{
	g_autofree gchar *old_commit = g_strdup (state->pending_commit);
	g_autofree gchar *old_version = g_strdup (state->pending_version);
	g_autofree gchar *old_previous = g_strdup (state->previous_pending_commit);
	g_autofree gchar *old_previous_version = g_strdup (state->previous_pending_version);
	g_autoptr (GError) local_error = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	/* The record first: a counter armed by mediaupd always has one, so that whatever
	 * boots next knows what it was armed for. */
	set_string (&state->previous_pending_commit, system->waiting_commit);
	set_string (&state->previous_pending_version,
		    system->waiting_commit != NULL ? system->waiting_version : NULL);
	set_string (&state->pending_commit, commit);
	set_string (&state->pending_version, version);
	if (!save (config, state, error)) {
		g_prefix_error (error, "cannot record the pending deployment: ");
		return FALSE;
	}
	if (!backend->arm (config, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		set_string (&state->pending_commit, old_commit);
		set_string (&state->pending_version, old_version);
		set_string (&state->previous_pending_commit, old_previous);
		set_string (&state->previous_pending_version, old_previous_version);
		if (!save (config, state, &local_error))
			g_warning ("%s", local_error->message);
		return FALSE;
	}
	if (backend->counts)
		mu_event_boot_armed (commit, version, backend->name);
	return TRUE;
}

gboolean
mu_boot_abort (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
	       const MuBootSystem *system, gboolean *ret_aborted, GError **error)
{
	g_autofree gchar *commit = NULL;
	g_autofree gchar *version = NULL;
	const gchar *previous = state->previous_pending_commit;
	gboolean keep = FALSE;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (state->pending_commit == NULL || is_deployed (system, state->pending_commit)) {
		if (ret_aborted != NULL)
			*ret_aborted = FALSE;
		return TRUE;
	}
	/* The update that waited for its first boot when this one was armed is still on
	 * its trial: the counter, armed again for this one, serves it. */
	keep = is_deployed (system, previous) && g_strcmp0 (previous, state->last_good_commit) != 0;
	/* Disarmed before the record goes: a failure leaves both, to try again. */
	if (!keep && !backend->disarm (config, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		return FALSE;
	}
	commit = g_steal_pointer (&state->pending_commit);
	version = g_steal_pointer (&state->pending_version);
	if (keep) {
		state->pending_commit = g_steal_pointer (&state->previous_pending_commit);
		state->pending_version = g_steal_pointer (&state->previous_pending_version);
	}
	g_clear_pointer (&state->previous_pending_commit, g_free);
	g_clear_pointer (&state->previous_pending_version, g_free);
	if (!save (config, state, error)) {
		g_prefix_error (error, "cannot drop the pending deployment: ");
		return FALSE;
	}
	if (backend->counts)
		mu_event_boot_trial_aborted (commit, version, system->booted_commit, backend->name,
					     keep ? state->pending_commit : NULL);
	else
		g_info ("commit %s was never deployed: it is no longer pending", commit);
	if (ret_aborted != NULL)
		*ret_aborted = TRUE;
	return TRUE;
}

gboolean
mu_boot_mark_good (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
		   const MuBootSystem *system, GError **error)
{
	MuBootCounter counter = { 0 };
	MuBootVerdict verdict;
	const gchar *commit = system->booted_commit;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	g_return_val_if_fail (commit != NULL, FALSE);

	if (!backend->read (config, &counter, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		return FALSE;
	}
	verdict = mu_boot_decide (state, system, &counter);
	if (verdict == MU_BOOT_ABORTED) {
		if (!mu_boot_abort (backend, config, state, system, NULL, error))
			return FALSE;
		verdict = mu_boot_decide (state, system, &counter);
	}
	if (verdict == MU_BOOT_WAITING || verdict == MU_BOOT_ROLLED_BACK) {
		g_info ("commit %s is marked good; the counter stays as it is for commit %s (%s)",
			commit, state->pending_commit, mu_boot_verdict_to_string (verdict));
	} else if (!backend->disarm (config, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		return FALSE;
	}
	set_string (&state->last_good_commit, commit);
	if (g_strcmp0 (state->pending_commit, commit) == 0) {
		g_clear_pointer (&state->pending_commit, g_free);
		g_clear_pointer (&state->pending_version, g_free);
		g_clear_pointer (&state->previous_pending_commit, g_free);
		g_clear_pointer (&state->previous_pending_version, g_free);
	}
	mu_event_boot_marked_good (commit, backend->name);
	return TRUE;
}

gboolean
mu_boot_check_rollback (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
			const MuBootSystem *system, MuBootUndeployFunc undeploy,
			MuBootVerdict *ret_verdict, GError **error)
{
	MuBootCounter counter = { 0 };
	MuBootVerdict verdict;
	g_autofree gchar *failed = NULL;
	g_autofree gchar *failed_version = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!backend->read (config, &counter, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		return FALSE;
	}
	verdict = mu_boot_decide (state, system, &counter);
	if (verdict == MU_BOOT_ABORTED && mu_boot_counter_exhausted (&counter)) {
		g_autoptr (GPtrArray) entries = mu_blacklist_load (config->state_dir, error);

		if (entries == NULL)
			return FALSE;
		/* Blacklisted and undeployed, then stopped: finish that rollback. */
		if (mu_blacklist_find (entries, state->pending_commit) != NULL)
			verdict = MU_BOOT_ROLLED_BACK;
	}
	if (verdict == MU_BOOT_ABORTED) {
		if (!mu_boot_abort (backend, config, state, system, NULL, error))
			return FALSE;
		if (ret_verdict != NULL)
			*ret_verdict = verdict;
		return TRUE;
	}
	if (verdict != MU_BOOT_ROLLED_BACK) {
		if (ret_verdict != NULL)
			*ret_verdict = verdict;
		return TRUE;
	}
	failed = g_strdup (state->pending_commit);
	failed_version = g_strdup (state->pending_version);
	g_message ("the boot loader fell back from commit %s after %u boots (limit %u): "
		   "rolling back",
		   failed, counter.count, counter.limit);
	if (!mu_blacklist_add (config->state_dir, failed, failed_version, error)) {
		g_prefix_error (error, "rollback: ");
		return FALSE;
	}
	if (!undeploy (config->sysroot, failed, error)) {
		g_prefix_error (error,
				"rollback: cannot remove the failed deployment %s: ", failed);
		return FALSE;
	}
	if (!backend->disarm (config, error)) {
		g_prefix_error (error, "rollback: boot counter (%s): ", backend->name);
		return FALSE;
	}
	set_string (&state->rolled_back_commit, failed);
	set_string (&state->rolled_back_version, failed_version);
	g_clear_pointer (&state->pending_commit, g_free);
	g_clear_pointer (&state->pending_version, g_free);
	g_clear_pointer (&state->previous_pending_commit, g_free);
	g_clear_pointer (&state->previous_pending_version, g_free);
	mu_event_rolled_back (failed, failed_version, system->booted_commit, backend->name);
	if (ret_verdict != NULL)
		*ret_verdict = verdict;
	return TRUE;
}

gboolean
mu_boot_abort_stale (const MuBootBackend *backend, const MuConfig *config, GError **error)
{
	g_autoptr (MuLock) lock = NULL;
	g_autoptr (MuDaemonState) state = NULL;
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GError) local_error = NULL;
	MuBootSystem system = { 0 };

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	/* Nothing pending, nothing to look at: no lock file is made for it. */
	state = mu_daemon_state_load (config->state_dir);
	if (state->pending_commit == NULL)
		return TRUE;
	g_clear_pointer (&state, mu_daemon_state_free);
	lock = mu_daemon_state_lock (config->state_dir, error);
	if (lock == NULL)
		return FALSE;
	state = mu_daemon_state_load (config->state_dir);
	if (state->pending_commit == NULL)
		return TRUE;
	/* Without a sysroot to look at, nothing can be told apart. */
	if (!mu_boot_system_read (config->sysroot, &status, &system, &local_error)) {
		g_debug ("no OSTree status of %s: %s", config->sysroot, local_error->message);
		return TRUE;
	}
	return mu_boot_abort (backend, config, state, &system, NULL, error);
}

/* ---- an install's deploy hooks ---- */

static gboolean
deploy_before (const gchar *commit, const gchar *version, gpointer user_data, GError **error)
{
	MuBootDeploy *d = user_data;
	g_autoptr (MuLock) lock = NULL;
	g_autoptr (MuDaemonState) state = NULL;
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GError) local_error = NULL;
	MuBootSystem system = { .installing = TRUE };

	lock = mu_daemon_state_lock (d->config->state_dir, error);
	if (lock == NULL)
		return FALSE;
	state = mu_daemon_state_load (d->config->state_dir);
	/* Which update waits for its first boot: a sysroot that is not booted (a test
	 * directory) has none. */
	if (!mu_boot_system_read (d->config->sysroot, &status, &system, &local_error))
		g_debug ("no OSTree status of %s: %s", d->config->sysroot, local_error->message);
	system.installing = TRUE;
	if (!mu_boot_arm (d->backend, d->config, state, &system, commit, version, error))
		return FALSE;
	d->armed = d->backend->counts;
	set_string (&d->commit, commit);
	set_string (&d->version, version);
	if (d->armed && d->on_armed != NULL)
		d->on_armed (commit, version, d->backend->name, d->user_data);
	return TRUE;
}

static void
deploy_failed (const gchar *commit, gpointer user_data)
{
	MuBootDeploy *d = user_data;
	g_autoptr (MuLock) lock = NULL;
	g_autoptr (MuDaemonState) state = NULL;
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GError) error = NULL;
	MuBootSystem system = { 0 };
	gboolean aborted = FALSE;

	lock = mu_daemon_state_lock (d->config->state_dir, &error);
	if (lock == NULL) {
		g_warning ("%s; the boot counter is disarmed at the next start", error->message);
		return;
	}
	state = mu_daemon_state_load (d->config->state_dir);
	if (g_strcmp0 (state->pending_commit, commit) != 0)
		return;
	if (!mu_boot_system_read (d->config->sysroot, &status, &system, &error)) {
		g_debug ("no OSTree status of %s: %s", d->config->sysroot, error->message);
		g_clear_error (&error);
	}
	if (!mu_boot_abort (d->backend, d->config, state, &system, &aborted, &error)) {
		g_warning ("%s; the boot counter is disarmed at the next start", error->message);
		return;
	}
	if (aborted)
		d->armed = FALSE;
}

void
mu_boot_deploy_hooks_init (MuBootDeploy *deploy, MuEngineDeployHooks *out_hooks)
{
	*out_hooks = (MuEngineDeployHooks){
		.before_deploy = deploy_before,
		.deploy_failed = deploy_failed,
		.user_data = deploy,
	};
}

void
mu_boot_deploy_clear (MuBootDeploy *deploy)
{
	g_clear_pointer (&deploy->commit, g_free);
	g_clear_pointer (&deploy->version, g_free);
}
