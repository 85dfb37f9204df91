/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's D-Bus object, org.mediaupd.Manager1 at /org/mediaupd/Manager1
 * (systemd/org.mediaupd.Manager1.xml), and what it drives: the queue of media and
 * ApplyBundle calls (one install at a time, each in a worker process: mu-worker.h), the
 * choice among several bundles on one medium, the reboot policy, the agent, and the state
 * kept across restarts (mu-daemon-state.h).
 */

#include <gio/gio.h>

#include "mu-config.h"
#include "mu-media-source.h"

G_BEGIN_DECLS

#define MU_MANAGER_BUS_NAME "org.mediaupd.Manager1"
#define MU_MANAGER_OBJECT_PATH "/org/mediaupd/Manager1"

typedef struct _MuManager MuManager;

/*
 * @config_path: what the workers read (NULL: the default). @source: where media come from,
 * or NULL for none (only ApplyBundle). Reads the saved state and the sysroot's status.
 */
MuManager *mu_manager_new (const MuConfig *config, const gchar *config_path, GDBusConnection *bus,
			   MuMediaSource *source);
void mu_manager_free (MuManager *manager);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuManager, mu_manager_free)

/* Exports the object on the bus. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_manager_start (MuManager *manager, GError **error);

/* Starts the media source (once the name is owned): media present and to come are queued. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_manager_watch_media (MuManager *manager, GError **error);

/*
 * Stops taking work: queued media are dropped, a running install is cancelled at its next
 * safe point. @done is called (on the main context) once no worker runs any more: at once
 * when idle.
 */
void mu_manager_stop (MuManager *manager, GSourceFunc done, gpointer user_data);

G_END_DECLS
