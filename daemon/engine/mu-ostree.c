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
	g_clear_pointer (&target->os_release, mu_os_release_free);
	g_clear_object (&target->pending);
	g_free (target->pending_commit);
	g_free (target->pending_version);
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

/* The timestamp and "version" of @checksum, a commit in the repository. */
static gboolean
read_commit_facts (OstreeRepo *repo, const gchar *checksum, guint64 *out_timestamp,
		   gchar **out_version, GError **error)
{
	g_autoptr (GVariant) commit = NULL;
	g_autoptr (GVariant) metadata = NULL;
	const gchar *version = NULL;

	if (!ostree_repo_load_commit (repo, checksum, &commit, NULL, error))
		return FALSE;
	metadata = g_variant_get_child_value (commit, 0);
	*out_timestamp = ostree_commit_get_timestamp (commit);
	*out_version = g_variant_lookup (metadata, "version", "&s", &version) ? g_strdup (version)
									      : NULL;
	return TRUE;
}

static gboolean
read_current_commit (MuOstreeTarget *t, GError **error)
{
	t->commit = g_strdup (ostree_deployment_get_csum (t->current));
	if (!read_commit_facts (t->repo, t->commit, &t->timestamp, &t->version, error)) {
		g_prefix_error (error, "the current commit is not in the repository: ");
		return FALSE;
	}
	t->collection_id = g_strdup (ostree_repo_get_collection_id (t->repo));
	return TRUE;
}

/* The default deployment when it is not the booted one: an install not booted yet. */
static gboolean
read_pending (MuOstreeTarget *t, GError **error)
{
	if (ostree_sysroot_get_booted_deployment (t->sysroot) == NULL)
		return TRUE;
	ostree_sysroot_query_deployments_for (t->sysroot, t->osname, &t->pending, NULL);
	if (t->pending == NULL)
		return TRUE;
	t->pending_commit = g_strdup (ostree_deployment_get_csum (t->pending));
	if (!read_commit_facts (t->repo, t->pending_commit, &t->pending_timestamp,
				&t->pending_version, error)) {
		g_prefix_error (error,
				"the pending deployment's commit is not in the repository: ");
		return FALSE;
	}
	return TRUE;
}

/*
 * usr/lib/os-release under @root (a deployment's directory or a commit's tree), never
 * through a symlink and bounded in size. A file that is missing is MU_ERROR_NOT_FOUND;
 * one that is not a regular file, too large or malformed MU_ERROR_INVALID_ARGUMENT.
 */
static MuOsRelease *
read_os_release (GFile *root, GCancellable *cancellable, GError **error)
{
	g_autoptr (GFile) file = g_file_resolve_relative_path (root, "usr/lib/os-release");
	g_autoptr (GFileInfo) fi = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autofree gchar *data = NULL;
	g_autoptr (GBytes) bytes = NULL;
	gsize len = 0;

	fi = g_file_query_info (file,
				G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE,
				G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, cancellable, &local_error);
	if (fi == NULL) {
		if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
			g_set_error_literal (error, MU_ERROR, MU_ERROR_NOT_FOUND,
					     "there is no usr/lib/os-release");
		else
			g_propagate_error (error, g_steal_pointer (&local_error));
		return NULL;
	}
	if (g_file_info_get_file_type (fi) != G_FILE_TYPE_REGULAR ||
	    g_file_info_get_size (fi) < 0 ||
	    (guint64) g_file_info_get_size (fi) > MU_OS_RELEASE_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "usr/lib/os-release is not a regular file of at most %" G_GSIZE_FORMAT
			     " bytes",
			     MU_OS_RELEASE_MAX_SIZE);
		return NULL;
	}
	if (!g_file_load_contents (file, cancellable, &data, &len, NULL, error))
		return NULL;
	bytes = g_bytes_new_take (g_steal_pointer (&data), len);
	return mu_os_release_parse (bytes, error);
}

/* Which OS runs, for updates bound to no ref or collection. A device whose own file is
 * missing or malformed can still take bound updates, so this only warns. */
static void
read_current_os_release (MuOstreeTarget *t, GCancellable *cancellable)
{
	g_autoptr (GFile) dir = ostree_sysroot_get_deployment_directory (t->sysroot, t->current);
	g_autoptr (GError) local_error = NULL;

	t->os_release = read_os_release (dir, cancellable, &local_error);
	if (t->os_release == NULL)
		g_warning ("the running system's OS is unknown (%s): only updates bound to its "
			   "ref or collection can be installed",
			   local_error->message);
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
	if (!read_origin (t, error) || !read_current_commit (t, error) || !read_pending (t, error))
		return NULL;
	read_current_os_release (t, cancellable);
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
	out_system->os_id = target->os_release != NULL ? target->os_release->id : NULL;
	out_system->os_variant_id = target->os_release != NULL ? target->os_release->variant_id
							       : NULL;
	out_system->pending_commit = target->pending_commit;
	out_system->pending_timestamp = target->pending_timestamp;
	out_system->pending_version = target->pending_version;
}

/* Removes every object that no ref and no deployment reaches, with their whole history
 * kept: after a refused tree, the to-commit and what only it brought. */
static gboolean
prune_unreferenced (MuOstreeTarget *t, GCancellable *cancellable, GError **error)
{
	g_autoptr (GHashTable) reachable = ostree_repo_traverse_new_reachable ();
	OstreeRepoPruneOptions opts = {
		.flags = OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY,
		.reachable = reachable,
	};
	gint total = 0;
	gint pruned = 0;
	guint64 freed = 0;
	g_autofree gchar *freed_size = NULL;
	gint64 start = g_get_monotonic_time ();

	if (!ostree_repo_traverse_reachable_refs (t->repo, G_MAXUINT, reachable, cancellable,
						  error) ||
	    !ostree_sysroot_cleanup_prune_repo (t->sysroot, &opts, &total, &pruned, &freed,
						cancellable, error))
		return FALSE;
	freed_size = g_format_size (freed);
	g_message ("removed %d objects (%s) that no ref or deployment reaches, of %d in the "
		   "repository, in %.2f s",
		   pruned, freed_size, total,
		   (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
	return TRUE;
}

static gboolean
check_tree_os (MuOstreeTarget *target, const gchar *commit, GCancellable *cancellable,
	       GError **error)
{
	g_autoptr (GFile) root = NULL;
	g_autoptr (MuOsRelease) tree = NULL;
	g_autoptr (GError) local_error = NULL;
	MuPolicySystem system;

	if (!ostree_repo_read_commit (target->repo, commit, &root, NULL, cancellable, error))
		return FALSE;
	tree = read_os_release (root, cancellable, &local_error);
	if (tree == NULL) {
		if (local_error->domain != MU_ERROR ||
		    (local_error->code != MU_ERROR_NOT_FOUND &&
		     local_error->code != MU_ERROR_INVALID_ARGUMENT)) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return FALSE;
		}
		g_set_error (error, MU_ERROR, MU_ERROR_WRONG_OS,
			     "the update's commit is bound to no ref or collection, and its tree "
			     "does not say which OS it is for (%s); use a bundle made for this "
			     "device's OS",
			     local_error->message);
		return FALSE;
	}
	mu_ostree_target_describe (target, &system);
	return mu_policy_check_tree_os (&system, tree, error);
}

gboolean
mu_ostree_check_tree_os (MuOstreeTarget *target, const gchar *commit, GCancellable *cancellable,
			 GError **error)
{
	g_autoptr (GError) local_error = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (check_tree_os (target, commit, cancellable, error))
		return TRUE;
	/* Not cancellable: a refused commit must not stay in the repository. */
	if (!prune_unreferenced (target, NULL, &local_error))
		g_warning ("could not remove the refused commit %s from the repository: %s", commit,
			   local_error->message);
	return FALSE;
}

gboolean
mu_ostree_target_has_commit (MuOstreeTarget *target, const gchar *checksum)
{
	gboolean have = FALSE;

	if (!ostree_repo_has_object (target->repo, OSTREE_OBJECT_TYPE_COMMIT, checksum, &have, NULL,
				     NULL))
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

void
mu_ostree_status_clear (MuOstreeStatus *status)
{
	g_clear_pointer (&status->current_commit, g_free);
	g_clear_pointer (&status->current_version, g_free);
	g_clear_pointer (&status->pending_commit, g_free);
	g_clear_pointer (&status->pending_version, g_free);
	g_clear_pointer (&status->deployed_commits, g_strfreev);
}

gboolean
mu_ostree_read_status (const gchar *path, MuOstreeStatus *out_status, GError **error)
{
	g_autoptr (GFile) file = g_file_new_for_path (path);
	g_autoptr (OstreeSysroot) sysroot = ostree_sysroot_new (file);
	g_autoptr (OstreeRepo) repo = NULL;
	g_autoptr (OstreeDeployment) current = NULL;
	g_auto (MuOstreeStatus) status = { 0 };
	g_autoptr (GPtrArray) deployments = NULL;
	g_autoptr (GPtrArray) deployed = NULL;
	OstreeDeployment *booted;
	guint64 timestamp = 0;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!ostree_sysroot_load (sysroot, NULL, error) ||
	    !ostree_sysroot_get_repo (sysroot, &repo, NULL, error))
		return FALSE;
	current = find_current (sysroot, FALSE, error);
	if (current == NULL)
		return FALSE;
	status.current_commit = g_strdup (ostree_deployment_get_csum (current));
	if (!read_commit_facts (repo, status.current_commit, &timestamp, &status.current_version,
				error))
		return FALSE;
	deployments = ostree_sysroot_get_deployments (sysroot);
	deployed = g_ptr_array_new ();
	for (guint i = 0; i < deployments->len; i++)
		g_ptr_array_add (deployed,
				 g_strdup (ostree_deployment_get_csum (deployments->pdata[i])));
	g_ptr_array_add (deployed, NULL);
	status.deployed_commits = (gchar **) g_ptr_array_free (g_steal_pointer (&deployed), FALSE);
	booted = ostree_sysroot_get_booted_deployment (sysroot);
	if (booted != NULL) {
		g_autoptr (OstreeDeployment) pending = NULL;

		ostree_sysroot_query_deployments_for (sysroot,
						      ostree_deployment_get_osname (booted),
						      &pending, NULL);
		if (pending != NULL) {
			status.pending_commit = g_strdup (ostree_deployment_get_csum (pending));
			if (!read_commit_facts (repo, status.pending_commit, &timestamp,
						&status.pending_version, error))
				return FALSE;
		}
	}
	*out_status = status;
	status = (MuOstreeStatus){ 0 };
	return TRUE;
}
