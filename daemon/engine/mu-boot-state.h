/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Boot counting. A backend is the boot loader's side, one small vtable chosen once by name
 * ([Boot] Backend= in mediaupd.conf): "none" (no counter), "uboot" (mu-boot-uboot.c) and
 * "grub" (mu-boot-grub.c). What an install and the daemon do with it lives here, apart
 * from D-Bus:
 *
 *   before a deploy   mu_boot_arm(): the pending record is saved, then the counter armed,
 *                     before the deploy can make the new deployment the default, so that
 *                     no power cut leaves a new default deployment with the counter off
 *   deploy failed     mu_boot_abort(): the counter is disarmed and the record dropped
 *   mark good         mu_boot_mark_good(): the booted deployment works; counter disarmed
 *   at start          mu_boot_check_rollback(): the boot loader gave up on the deployment
 *                     last made and booted the previous one; the failed one is blacklisted
 *                     (mu-blacklist.h), undeployed, and the counter disarmed. Or the
 *                     pending commit never got deployed (a power cut or a kill between the
 *                     arming and the deploy): an aborted trial, disarmed, nothing
 *                     blacklisted
 *
 * mu_boot_deploy_hooks_init() gives an install (mu-engine.h) the first two, so that the
 * daemon's worker and `mediaupdctl apply --local` arm the same way.
 *
 * docs/boot-counting.md is the integrator's side (variables, grub.cfg, the target).
 */

#include <glib.h>

#include "mu-config.h"
#include "mu-daemon-state.h"
#include "mu-engine.h"
#include "mu-ostree.h"

G_BEGIN_DECLS

/* The counter as the boot loader sees it. */
typedef struct {
	gboolean armed; /* a trial of a new deployment is under way */
	guint count;    /* boots of it so far */
	guint limit;    /* boots of it before the boot loader falls back */
} MuBootCounter;

/* The trial ran out: the boot loader boots the previous deployment. */
gboolean mu_boot_counter_exhausted (const MuBootCounter *counter);

typedef struct {
	const gchar *name;
	/* FALSE for "none": nothing is armed, so no arming is announced. */
	gboolean counts;
	/* A deploy made a new default deployment: arm the counter (count 0). */
	gboolean (*arm) (const MuConfig *config, GError **error);
	/* No trial under way any more: disarm the counter. */
	gboolean (*disarm) (const MuConfig *config, GError **error);
	/* The counter's state; a damaged environment is MU_ERROR_CORRUPT_BOOT_ENV. */
	gboolean (*read) (const MuConfig *config, MuBootCounter *out_counter, GError **error);
} MuBootBackend;

extern const MuBootBackend mu_boot_backend_uboot;
extern const MuBootBackend mu_boot_backend_grub;

/* The backend called @name, or NULL (the configuration admits only known names). */
const MuBootBackend *mu_boot_backend_get_by_name (const gchar *name);

/* Removes every deployment of @commit but the booted one from the sysroot at @sysroot. */
typedef gboolean (*MuBootUndeployFunc) (const gchar *sysroot, const gchar *commit, GError **error);

/* What the sysroot (and the daemon) say, for the decisions below. */
typedef struct {
	const gchar *booted_commit; /* the booted deployment's, or NULL */
	/* The default deployment when it is not the booted one: an update waiting for its
	 * first boot (or the one the boot loader fell back from), else NULL. */
	const gchar *waiting_commit;
	const gchar *waiting_version;
	/* An install is under way: a pending commit not deployed yet may be about to be. */
	gboolean installing;
	/* The commits of all deployments (NULL: none but the two above). */
	const gchar *const *deployed;
} MuBootSystem;

/* The sysroot at @sysroot as MuBootSystem says it; the strings are kept in @status. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_system_read (const gchar *sysroot, MuOstreeStatus *status,
			      MuBootSystem *out_system, GError **error);

typedef enum {
	MU_BOOT_NOTHING,     /* no deployment on trial */
	MU_BOOT_WAITING,     /* the pending deployment is the default and boots next, or its
			      * install is still deploying it */
	MU_BOOT_TRIAL,       /* the pending deployment is booted and waits to be marked good */
	MU_BOOT_ROLLED_BACK, /* the boot loader fell back from the pending deployment */
	MU_BOOT_ABORTED,     /* the pending commit never got deployed: there is no trial */
} MuBootVerdict;

const gchar *mu_boot_verdict_to_string (MuBootVerdict verdict);

/* What @system and @counter say about the pending deployment of @state. */
MuBootVerdict mu_boot_decide (const MuDaemonState *state, const MuBootSystem *system,
			      const MuBootCounter *counter);

/*
 * Just before the deploy of @commit: @state records it as pending (and the update
 * @system says is waiting for its first boot, if any, as the previous one) and is saved
 * to STATE_DIR, then the counter is armed and the armed event logged. When arming fails,
 * @state is saved as it was and the error says why: the deploy must not go on.
 * The caller holds mu_daemon_state_lock().
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_arm (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
		      const MuBootSystem *system, const gchar *commit, const gchar *version,
		      GError **error);

/*
 * The deploy of @commit did not happen, or an install was stopped before it: when
 * @system says the pending commit of @state is not deployed, the trial is aborted (the
 * counter disarmed, then the record dropped and @state saved; the trial-aborted event).
 * The update that was waiting before it, when @system still has it booted or waiting,
 * becomes pending again with the counter left armed. *@ret_aborted (optional) says
 * whether it did anything. The caller holds mu_daemon_state_lock().
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_abort (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
			const MuBootSystem *system, gboolean *ret_aborted, GError **error);

/*
 * The booted commit of @system works: @state records it as the last good one. The counter
 * is disarmed and the booted commit is no longer pending, unless another deployment is
 * on trial (the pending one is waiting for its first boot, is being deployed, or the
 * boot loader fell back from it and the rollback is still to be done): then the counter
 * is left as it is. A pending commit that never got deployed is aborted first. @state is
 * saved by the caller.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_mark_good (const MuBootBackend *backend, const MuConfig *config,
			    MuDaemonState *state, const MuBootSystem *system, GError **error);

/*
 * At start. When the boot loader fell back from the pending deployment (MU_BOOT_ROLLED_BACK):
 * its commit goes on the blacklist, @undeploy removes it, the counter is disarmed, and
 * @state says which commit it rolled back from (no longer pending); the rolled-back event
 * is logged. In that order, so that a failure on the way (reported, nothing more done)
 * leaves the counter exhausted and the boot loader on the previous deployment, and the
 * next start tries again. A pending commit that never got deployed is aborted
 * (mu_boot_abort()), nothing blacklisted, unless it is already on the blacklist with the
 * counter run out: a rollback cut short after its undeploy, finished now.
 * *@ret_verdict (optional) says what was found. @state is saved (a rollback by the
 * caller, an abort here); the caller holds mu_daemon_state_lock().
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_check_rollback (const MuBootBackend *backend, const MuConfig *config,
				 MuDaemonState *state, const MuBootSystem *system,
				 MuBootUndeployFunc undeploy, MuBootVerdict *ret_verdict,
				 GError **error);

/*
 * Before an install, and after one was stopped (its process killed): a pending commit the
 * sysroot at config->sysroot does not have, armed by an install that never got to its
 * deploy, is aborted (mu_boot_abort()), with the state file locked, loaded and saved.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_abort_stale (const MuBootBackend *backend, const MuConfig *config, GError **error);

/* What an install's deploy hooks did, for its caller to report. */
typedef struct {
	const MuBootBackend *backend;
	const MuConfig *config;
	gboolean armed; /* the counter was armed for the deploy (and not disarmed again) */
	gchar *commit;
	gchar *version;
	/* Called on the install's thread once the counter is armed (optional). */
	void (*on_armed) (const gchar *commit, const gchar *version, const gchar *backend,
			  gpointer user_data);
	gpointer user_data;
} MuBootDeploy;

/* Hooks for mu_engine_install() that arm @deploy->backend before the deploy (the state
 * file locked, loaded, saved) and abort the trial when the deploy fails. */
void mu_boot_deploy_hooks_init (MuBootDeploy *deploy, MuEngineDeployHooks *out_hooks);
void mu_boot_deploy_clear (MuBootDeploy *deploy);

G_END_DECLS
