/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The boot-state backend: what MarkBootSuccessful does to the boot loader. One small
 * vtable, chosen once by name ([Boot] Backend= in mediaupd.conf). Only "none" exists yet:
 * it records the booted commit as the last good one in the daemon's state file. Boot
 * counting (U-Boot, GRUB) adds backends that also arm a counter after a deploy and report
 * the counter's state: the slots for that are here, unset by "none".
 */

#include <glib.h>

#include "mu-daemon-state.h"

G_BEGIN_DECLS

typedef struct {
	const gchar *name;
	/* The booted deployment @commit works: disarm the counter, record it. */
	gboolean (*mark_good) (MuDaemonState *state, const gchar *commit, GError **error);
	/* Optional: a deploy of @commit will boot next (arm the counter). */
	gboolean (*arm) (MuDaemonState *state, const gchar *commit, GError **error);
	/* Optional: a one-line description of the counter's state, for status. */
	gchar *(*status) (const MuDaemonState *state);
} MuBootBackend;

/* The backend called @name, or NULL (the configuration admits only known names). */
const MuBootBackend *mu_boot_backend_get_by_name (const gchar *name);

G_END_DECLS
