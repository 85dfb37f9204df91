/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <ostree.h>

#include "mu-delta.h"
#include "mu-os-release.h"
#include "mu-policy.h"
#include "mu-progress.h"

G_BEGIN_DECLS

/*
 * The system being updated: an OSTree sysroot, locked for the whole install, and its
 * current deployment. On a device the current deployment is the booted one; for a
 * sysroot that is not booted (a test sysroot in a directory) it is the default one.
 * The pending deployment is one an earlier install made the default, not booted yet; only
 * a booted system has one.
 */
typedef struct {
	OstreeSysroot *sysroot;
	OstreeRepo *repo;
	OstreeDeployment *current;
	gchar *osname;
	gchar *refspec;
	gchar *remote; /* NULL for a local ref */
	gchar *ref;
	gchar *commit;
	guint64 timestamp;
	gchar *version;
	gchar *collection_id;
	MuOsRelease *os_release; /* the current deployment's usr/lib/os-release, or NULL */
	OstreeDeployment *pending;
	gchar *pending_commit;
	guint64 pending_timestamp;
	gchar *pending_version;
	gboolean locked;
} MuOstreeTarget;

void mu_ostree_target_free (MuOstreeTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuOstreeTarget, mu_ostree_target_free)

/* Loads and locks the sysroot at @path. When @require_booted, a sysroot that is not the
 * booted one is an error. */
G_GNUC_WARN_UNUSED_RESULT
MuOstreeTarget *mu_ostree_target_open (const gchar *path, gboolean require_booted,
				       GCancellable *cancellable, GError **error);

/* The policy's view of the running system; the strings stay owned by @target. */
void mu_ostree_target_describe (const MuOstreeTarget *target, MuPolicySystem *out_system);

gboolean mu_ostree_target_has_commit (MuOstreeTarget *target, const gchar *checksum);

/*
 * For a commit bound to no ref or collection, after the apply: the tree of @commit must
 * be for this device's OS (mu_policy_check_tree_os() on its usr/lib/os-release, a regular
 * file of at most MU_OS_RELEASE_MAX_SIZE bytes). When it is not, MU_ERROR_WRONG_OS, and
 * what the apply added is removed again: every object no ref and no deployment reaches.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_check_tree_os (MuOstreeTarget *target, const gchar *commit,
				  GCancellable *cancellable, GError **error);

/* Free bytes in the filesystem of the repository, as root may use them. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_target_free_bytes (MuOstreeTarget *target, guint64 *out_bytes, GError **error);

/*
 * Applies the delta described by @info: @superblock is the verified superblock, written
 * to a private directory in the repository's tmp directory (the sysroot's disk), with a
 * copy of each part file read from @delta_fd (the delta directory of the bundle, opened
 * with mu_safe_open_dir()). Each part is read once, at most its signed size + 1 bytes,
 * and hashed while copied; libostree opens it only when its SHA-256 is the one the
 * superblock pins, so no unverified byte is decompressed. That copy needs
 * @info->total_compressed bytes on the disk besides what the delta adds. Progress counts
 * bytes over twice the delta's size: the check-and-copy pass, then libostree's pass (a
 * part counts when libostree opens the next one). Afterwards the to-commit must be
 * complete. The private directory is removed on every path.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_apply_delta (MuOstreeTarget *target, GBytes *superblock, const MuDeltaInfo *info,
				int delta_fd, MuProgress *progress, GCancellable *cancellable,
				GError **error);

/*
 * Removes the private apply directories that an install killed midway left in the
 * repository of the sysroot at @sysroot_path. Call it only while no install runs (under
 * the install lock, or holding the sysroot lock); mu_ostree_apply_delta() calls it itself.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_apply_remove_stale (const gchar *sysroot_path, GError **error);

/*
 * Deploys @commit for the current OS: origin and kernel arguments from the current
 * deployment, /etc merged, bootloader configuration written atomically, the origin ref
 * moved. On failure, deployments, refs and boot configuration are as before.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_deploy (MuOstreeTarget *target, const gchar *commit, GCancellable *cancellable,
			   GError **error);

/*
 * Removes every deployment of @commit from the sysroot at @path, except the booted one, and
 * writes the boot configuration without them (atomically), as after a rollback: the next
 * boot does not try the failed version again. Takes the sysroot lock. Nothing to remove is
 * no error (*@ret_removed, optional, is 0).
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_undeploy (const gchar *path, const gchar *commit, guint *ret_removed,
			     GError **error);

/*
 * What a status display shows: the current deployment (the booted one; the default one of a
 * sysroot that is not booted) and the pending one (the default when it is not the booted
 * one). Commits and versions are NULL where there is none. Read without the sysroot lock:
 * it never waits for an install.
 */
typedef struct {
	gchar *current_commit;
	gchar *current_version;
	gchar *pending_commit;
	gchar *pending_version;
	gchar **deployed_commits; /* of every deployment, default first */
} MuOstreeStatus;

void mu_ostree_status_clear (MuOstreeStatus *status);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuOstreeStatus, mu_ostree_status_clear)

/* Fails where @path is no OSTree sysroot (e.g. "/" on a build machine). */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_ostree_read_status (const gchar *path, MuOstreeStatus *out_status, GError **error);

G_END_DECLS
