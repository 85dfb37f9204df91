/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-blacklist.h"
#include "mu-boot-state.h"
#include "mu-error.h"
#include "mu-events.h"

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

gboolean
mu_boot_arm (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
	     const gchar *commit, const gchar *version, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	set_string (&state->pending_commit, commit);
	set_string (&state->pending_version, version);
	if (!backend->arm (config, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		return FALSE;
	}
	if (backend->counts)
		mu_event_boot_armed (commit, version, backend->name);
	return TRUE;
}

gboolean
mu_boot_mark_good (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
		   const gchar *commit, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!backend->disarm (config, error)) {
		g_prefix_error (error, "boot counter (%s): ", backend->name);
		return FALSE;
	}
	set_string (&state->last_good_commit, commit);
	if (g_strcmp0 (state->pending_commit, commit) == 0) {
		g_clear_pointer (&state->pending_commit, g_free);
		g_clear_pointer (&state->pending_version, g_free);
	}
	mu_event_boot_marked_good (commit, backend->name);
	return TRUE;
}

MuBootVerdict
mu_boot_decide (const MuDaemonState *state, const gchar *booted_commit,
		const MuBootCounter *counter)
{
	if (state->pending_commit == NULL || booted_commit == NULL)
		return MU_BOOT_NOTHING;
	if (g_str_equal (state->pending_commit, booted_commit))
		return MU_BOOT_TRIAL;
	/* Not booted, and the counter still runs: it was deployed, the device has not
	 * restarted since (or is restarting into it). */
	return mu_boot_counter_exhausted (counter) ? MU_BOOT_ROLLED_BACK : MU_BOOT_NOTHING;
}

gboolean
mu_boot_check_rollback (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
			const gchar *booted_commit, MuBootUndeployFunc undeploy,
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
	verdict = mu_boot_decide (state, booted_commit, &counter);
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
	mu_event_rolled_back (failed, failed_version, booted_commit, backend->name);
	if (ret_verdict != NULL)
		*ret_verdict = verdict;
	return TRUE;
}
