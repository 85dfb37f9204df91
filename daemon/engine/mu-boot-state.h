/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Boot counting. A backend is the boot loader's side, one small vtable chosen once by name
 * ([Boot] Backend= in mediaupd.conf): "none" (no counter), "uboot" (mu-boot-uboot.c) and
 * "grub" (mu-boot-grub.c). What the daemon does with it lives here, apart from D-Bus:
 *
 *   after a deploy    mu_boot_arm(): the next boots are a trial of the new deployment
 *   mark good         mu_boot_mark_good(): the booted deployment works; counter disarmed
 *   at start          mu_boot_check_rollback(): the boot loader gave up on the deployment
 *                     last made and booted the previous one; the failed one is blacklisted
 *                     (mu-blacklist.h), undeployed, and the counter disarmed
 *
 * docs/boot-counting.md is the integrator's side (variables, grub.cfg, the target).
 */

#include <glib.h>

#include "mu-config.h"
#include "mu-daemon-state.h"

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

/* After a deploy of @commit: @state records it as pending, and the counter is armed. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_arm (const MuBootBackend *backend, const MuConfig *config, MuDaemonState *state,
		      const gchar *commit, const gchar *version, GError **error);

/* The booted @commit works: counter disarmed, @state records it as the last good one (and
 * no longer as pending). */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_mark_good (const MuBootBackend *backend, const MuConfig *config,
			    MuDaemonState *state, const gchar *commit, GError **error);

typedef enum {
	MU_BOOT_NOTHING,     /* no deployment on trial, or it has not booted yet */
	MU_BOOT_TRIAL,       /* the pending deployment is booted and waits to be marked good */
	MU_BOOT_ROLLED_BACK, /* the boot loader fell back from the pending deployment */
} MuBootVerdict;

/* What @booted_commit and @counter say about the pending deployment of @state. */
MuBootVerdict mu_boot_decide (const MuDaemonState *state, const gchar *booted_commit,
			      const MuBootCounter *counter);

/*
 * At start. When the boot loader fell back from the pending deployment (MU_BOOT_ROLLED_BACK):
 * its commit goes on the blacklist, @undeploy removes it, the counter is disarmed, and
 * @state says which commit it rolled back from (no longer pending); the rolled-back event
 * is logged. In that order, so that a failure on the way (reported, nothing more done)
 * leaves the counter exhausted and the boot loader on the previous deployment, and the
 * next start tries again. *@ret_verdict (optional) says what was found.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_boot_check_rollback (const MuBootBackend *backend, const MuConfig *config,
				 MuDaemonState *state, const gchar *booted_commit,
				 MuBootUndeployFunc undeploy, MuBootVerdict *ret_verdict,
				 GError **error);

G_END_DECLS
