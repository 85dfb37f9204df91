/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "mu-config.h"
#include "mu-progress.h"

G_BEGIN_DECLS

/* What a finished install did. */
typedef struct {
	gchar *bundle;
	gchar *key_id; /* the device key that opened the bundle */
	gint keyslot;
	guint key_trials;      /* keyslot PBKDFs tried (or skipped over the limits) */
	gchar *signing_key_id; /* the trusted key that verified the delta */
	gchar *osname;
	gchar *from_commit; /* NULL for a full update */
	gchar *to_commit;
	gchar *version;    /* of the deployed commit, or NULL */
	guint64 timestamp; /* of the to-commit, from the verified superblock (0 before) */
	guint64 bytes;     /* size of the delta applied */
	gdouble apply_seconds;
	MuPhase failed_phase; /* on failure: where it stopped */
} MuInstallResult;

void mu_install_result_clear (MuInstallResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuInstallResult, mu_install_result_clear)

/*
 * Around the deploy phase, for the boot counter (mu_boot_deploy_hooks_init()):
 * before_deploy() runs after the last point where the install can be stopped and before
 * anything is deployed; FALSE stops the install there, with its error, and nothing is
 * deployed. deploy_failed() runs when, after it, the deploy failed.
 */
typedef struct {
	gboolean (*before_deploy) (const gchar *commit, const gchar *version, gpointer user_data,
				   GError **error);
	void (*deploy_failed) (const gchar *commit, gpointer user_data);
	gpointer user_data;
} MuEngineDeployHooks;

/*
 * Installs the bundle at @bundle_path: discover, unlock, verify, check, apply, deploy,
 * finish for format v1; for format v2 discover, verify (the signed header), check (the
 * policy, from that header), unlock (the first PBKDF, dm-verity and dm-crypt), verify (the
 * delta, against the header), apply, deploy, finish. Which formats are accepted is
 * [Bundle] Formats= (MuConfig.bundle_formats). Every phase prefixes its errors with its name and reports to @progress
 * (optional). The outcome is logged once, as a journal event, here. On any failure the
 * deployments, refs and boot configuration are as they were, and no mount, mapping or
 * loop device is left. Once the update is deployed the install succeeds even if closing
 * the bundle fails afterwards (after a few tries: a warning event). A stick pulled in
 * any phase is MU_ERROR_MEDIA_REMOVED, unless the error was a verdict on bytes already
 * read. @result (optional) is filled as far as the install got. @hooks (optional) run
 * around the deploy.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_engine_install (const MuConfig *config, const gchar *bundle_path,
			    const MuEngineDeployHooks *hooks, MuProgress *progress,
			    MuInstallResult *result, GCancellable *cancellable, GError **error);

/*
 * As mu_engine_install(), for the bundle file open as @bundle_fd (the caller keeps it): the
 * engine never opens it by a name. @name says which file in messages and events (e.g. where
 * a D-Bus client said it came from); it is not looked up.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_engine_install_fd (const MuConfig *config, int bundle_fd, const gchar *name,
			       const MuEngineDeployHooks *hooks, MuProgress *progress,
			       MuInstallResult *result, GCancellable *cancellable, GError **error);

/*
 * The phases of an install up to the policy check (discover, unlock, verify, check; for
 * format v2 discover, verify, check and the key trial, without any loop device or mapping),
 * then finish: tells whether the bundle would be installed, and fills @result with its to-commit,
 * version and timestamp, without applying anything. For choosing among several bundles on a
 * medium. The bundle is @bundle_path, or the file open as @bundle_fd when that is >= 0
 * (@bundle_path then only names it). A refusal is logged as for an install.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_engine_check (const MuConfig *config, const gchar *bundle_path, int bundle_fd,
			  MuProgress *progress, MuInstallResult *result, GCancellable *cancellable,
			  GError **error);

/*
 * Removes what an install killed at any point may have left (mounts, dm-crypt mappings and
 * loop devices of the bundle, the private apply directory). Call it holding the install
 * lock (mu-lock.h) before the first install: at daemon start, and in
 * `mediaupdctl apply --local`.
 */
void mu_engine_cleanup_stale (const MuConfig *config);

G_END_DECLS
