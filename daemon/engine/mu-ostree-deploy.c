/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-error.h"
#include "mu-ostree.h"

static GKeyFile *
copy_origin (OstreeDeployment *deployment)
{
	GKeyFile *origin = ostree_deployment_get_origin (deployment);
	GKeyFile *copy = g_key_file_new ();
	g_autofree gchar *data = NULL;
	gsize len = 0;

	if (origin == NULL)
		return copy;
	data = g_key_file_to_data (origin, &len, NULL);
	if (!g_key_file_load_from_data (copy, data, len, G_KEY_FILE_KEEP_COMMENTS, NULL))
		g_warning ("deploy: could not copy the origin of the current deployment");
	return copy;
}

static gboolean
set_ref (OstreeRepo *repo, const gchar *remote, const gchar *ref, const gchar *checksum,
	 GCancellable *cancellable, GError **error)
{
	if (!ostree_repo_prepare_transaction (repo, NULL, cancellable, error))
		return FALSE;
	ostree_repo_transaction_set_ref (repo, remote, ref, checksum);
	if (!ostree_repo_commit_transaction (repo, NULL, cancellable, error)) {
		(void) ostree_repo_abort_transaction (repo, NULL, NULL);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_ostree_deploy (MuOstreeTarget *target, const gchar *commit, GCancellable *cancellable,
		  GError **error)
{
	g_autoptr (GKeyFile) origin = copy_origin (target->current);
	g_autoptr (OstreeDeployment) deployment = NULL;
	OstreeSysrootDeployTreeOpts opts = { 0 };
	g_autoptr (GError) local_error = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	/* With no kernel arguments given, libostree carries over those of the merge
	 * deployment, which is the current one; /etc is merged from it too. */
	if (!ostree_sysroot_deploy_tree_with_options (target->sysroot, target->osname, commit,
						      origin, target->current, &opts, &deployment,
						      cancellable, error)) {
		/* A checkout cut short is not in the boot configuration; remove it. */
		if (!ostree_sysroot_cleanup (target->sysroot, NULL, &local_error))
			g_warning ("deploy: cleanup after failure: %s", local_error->message);
		return FALSE;
	}
	/* The boot configuration is swapped atomically here: the only point of no return. */
	if (!ostree_sysroot_simple_write_deployment (
		    target->sysroot, target->osname, deployment, target->current,
		    OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_NONE, cancellable, error)) {
		if (!ostree_sysroot_cleanup (target->sysroot, NULL, &local_error))
			g_warning ("deploy: cleanup after failure: %s", local_error->message);
		return FALSE;
	}
	/*
	 * The ref follows only once the new deployment is in the boot configuration, so it
	 * never names a commit that is not deployed. Stopped (killed, power lost) before this,
	 * the ref lags one update behind the deployment, which is harmless: what boots comes
	 * from the boot configuration, the policy compares against the booted deployment and
	 * not the ref, and libostree's prune keeps every deployed commit. The next install
	 * moves the ref to its own commit. A failure here leaves the update deployed, so it is
	 * a warning, not a failed install.
	 */
	if (!set_ref (target->repo, target->remote, target->ref, commit, NULL, &local_error))
		g_warning ("deploy: %s is deployed but ref %s could not be moved to it: %s", commit,
			   target->refspec, local_error->message);
	return TRUE;
}

gboolean
mu_ostree_undeploy (const gchar *path, const gchar *commit, guint *ret_removed, GError **error)
{
	g_autoptr (GFile) file = g_file_new_for_path (path);
	g_autoptr (OstreeSysroot) sysroot = ostree_sysroot_new (file);
	g_autoptr (GPtrArray) deployments = NULL;
	g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func (g_object_unref);
	OstreeDeployment *booted;
	gboolean ok;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!ostree_sysroot_load (sysroot, NULL, error) || !ostree_sysroot_lock (sysroot, error))
		return FALSE;
	/* Reload under the lock: another writer may have changed things meanwhile. */
	if (!ostree_sysroot_load (sysroot, NULL, error)) {
		ostree_sysroot_unlock (sysroot);
		return FALSE;
	}
	booted = ostree_sysroot_get_booted_deployment (sysroot);
	deployments = ostree_sysroot_get_deployments (sysroot);
	for (guint i = 0; i < deployments->len; i++) {
		OstreeDeployment *d = deployments->pdata[i];

		if (g_str_equal (ostree_deployment_get_csum (d), commit) &&
		    (booted == NULL || !ostree_deployment_equal (d, booted)))
			continue;
		g_ptr_array_add (kept, g_object_ref (d));
	}
	if (kept->len == deployments->len) {
		ostree_sysroot_unlock (sysroot);
		if (ret_removed != NULL)
			*ret_removed = 0;
		return TRUE;
	}
	if (kept->len == 0) {
		ostree_sysroot_unlock (sysroot);
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "undeploy: %s is the only deployment; it is kept", commit);
		return FALSE;
	}
	/* The boot configuration is swapped atomically, and what is no longer deployed is
	 * cleaned up. */
	ok = ostree_sysroot_write_deployments (sysroot, kept, NULL, error);
	ostree_sysroot_unlock (sysroot);
	if (ok && ret_removed != NULL)
		*ret_removed = deployments->len - kept->len;
	return ok;
}
