/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-ostree.h"

void
mu_ostree_target_free (MuOstreeTarget *target)
{
	if (target == NULL)
		return;
	if (target->locked)
		ostree_sysroot_unlock (target->sysroot);
	g_clear_object (&target->current);
	g_clear_object (&target->repo);
	g_clear_object (&target->sysroot);
	g_free (target->osname);
	g_free (target->refspec);
	g_free (target->remote);
	g_free (target->ref);
	g_free (target->commit);
	g_free (target->version);
	g_free (target->collection_id);
	g_free (target);
}

static OstreeDeployment *
find_current (OstreeSysroot *sysroot, gboolean require_booted, GError **error)
{
	OstreeDeployment *booted = ostree_sysroot_get_booted_deployment (sysroot);
	g_autoptr (GPtrArray) deployments = NULL;

	if (booted != NULL)
		return g_object_ref (booted);
	if (require_booted) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the system was not booted from an OSTree deployment of this "
			     "sysroot; updates can only be applied to a booted OSTree system");
		return NULL;
	}
	deployments = ostree_sysroot_get_deployments (sysroot);
	if (deployments->len == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the sysroot has no deployment to update");
		return NULL;
	}
	return g_object_ref (deployments->pdata[0]);
}

static gboolean
read_origin (MuOstreeTarget *t, GError **error)
{
	GKeyFile *origin = ostree_deployment_get_origin (t->current);
	g_autofree gchar *remote = NULL;
	g_autofree gchar *ref = NULL;

	t->refspec = origin != NULL ? g_key_file_get_string (origin, "origin", "refspec", NULL)
				    : NULL;
	if (t->refspec == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the current deployment has no origin refspec; it was not deployed "
			     "from a ref and cannot be updated");
		return FALSE;
	}
	if (!ostree_parse_refspec (t->refspec, &remote, &ref, error))
		return FALSE;
	t->remote = g_steal_pointer (&remote);
	t->ref = g_steal_pointer (&ref);
	return TRUE;
}

static gboolean
read_current_commit (MuOstreeTarget *t, GError **error)
{
	g_autoptr (GVariant) commit = NULL;
	g_autoptr (GVariant) metadata = NULL;
	const gchar *version = NULL;

	t->commit = g_strdup (ostree_deployment_get_csum (t->current));
	if (!ostree_repo_load_commit (t->repo, t->commit, &commit, NULL, error)) {
		g_prefix_error (error, "the current commit is not in the repository: ");
		return FALSE;
	}
	metadata = g_variant_get_child_value (commit, 0);
	t->timestamp = ostree_commit_get_timestamp (commit);
	if (g_variant_lookup (metadata, "version", "&s", &version))
		t->version = g_strdup (version);
	t->collection_id = g_strdup (ostree_repo_get_collection_id (t->repo));
	return TRUE;
}

MuOstreeTarget *
mu_ostree_target_open (const gchar *path, gboolean require_booted, GCancellable *cancellable,
		       GError **error)
{
	g_autoptr (GFile) file = g_file_new_for_path (path);
	g_autoptr (MuOstreeTarget) t = g_new0 (MuOstreeTarget, 1);

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	t->sysroot = ostree_sysroot_new (file);
	if (!ostree_sysroot_load (t->sysroot, cancellable, error))
		return NULL;
	if (!ostree_sysroot_lock (t->sysroot, error))
		return NULL;
	t->locked = TRUE;
	/* Reload under the lock: another writer may have changed things meanwhile. */
	if (!ostree_sysroot_load (t->sysroot, cancellable, error))
		return NULL;
	if (!ostree_sysroot_get_repo (t->sysroot, &t->repo, cancellable, error))
		return NULL;
	t->current = find_current (t->sysroot, require_booted, error);
	if (t->current == NULL)
		return NULL;
	t->osname = g_strdup (ostree_deployment_get_osname (t->current));
	if (!read_origin (t, error) || !read_current_commit (t, error))
		return NULL;
	return g_steal_pointer (&t);
}

void
mu_ostree_target_describe (const MuOstreeTarget *target, MuPolicySystem *out_system)
{
	out_system->commit = target->commit;
	out_system->origin_ref = target->ref;
	out_system->collection_id = target->collection_id;
	out_system->timestamp = target->timestamp;
	out_system->version = target->version;
}

gboolean
mu_ostree_target_has_commit (MuOstreeTarget *target, const gchar *checksum)
{
	gboolean have = FALSE;

	if (!ostree_repo_has_object (target->repo, OSTREE_OBJECT_TYPE_COMMIT, checksum, &have,
				     NULL, NULL))
		return FALSE;
	return have;
}

gboolean
mu_ostree_target_free_bytes (MuOstreeTarget *target, guint64 *out_bytes, GError **error)
{
	struct statvfs st;

	if (fstatvfs (ostree_repo_get_dfd (target->repo), &st) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot read free space: %s",
			     g_strerror (saved));
		return FALSE;
	}
	/* What unprivileged writers may use: the root reserve stays for the running system. */
	*out_bytes = (guint64) st.f_bavail * st.f_frsize;
	return TRUE;
}
