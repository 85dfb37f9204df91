/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the daemon keeps across restarts and power cuts, in STATE_DIR/state (a key file,
 * replaced atomically and durably, mode 0644: it holds no secret):
 *
 *   [LastResult] Error= (D-Bus error name, "" after a success) Message= Bundle= Time= (µs)
 *   [Pending]    Commit= Version=   the deployment an install is making or made, from just
 *                                   before its deploy until it is marked good or rolled back
 *                PreviousCommit= PreviousVersion=   the update that was waiting for its
 *                                   first boot when that install started its deploy
 *   [Boot]       LastGood=          the commit last marked good
 *                RolledBackFrom= RolledBackVersion=   the deployment the boot loader last
 *                                   fell back from (mu-boot-state.h)
 *
 * A missing file is an empty state; a damaged one is logged and read as empty, so that
 * the daemon always starts. The daemon and the install (its worker process, or
 * `mediaupdctl apply --local`) both change it: each change is a load, edit and save under
 * mu_daemon_state_lock().
 */

#include <glib.h>

#include "mu-lock.h"

G_BEGIN_DECLS

typedef struct {
	gchar *error_name; /* full D-Bus name, or "" */
	gchar *message;
	gchar *bundle;
	gint64 time_us; /* g_get_real_time() of the result, 0 if none */
	gchar *pending_commit;
	gchar *pending_version;
	gchar *previous_pending_commit;
	gchar *previous_pending_version;
	gchar *last_good_commit;
	gchar *rolled_back_commit;
	gchar *rolled_back_version;
} MuDaemonState;

MuDaemonState *mu_daemon_state_new (void);
void mu_daemon_state_free (MuDaemonState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuDaemonState, mu_daemon_state_free)

/* Never fails: see above. */
MuDaemonState *mu_daemon_state_load (const gchar *state_dir);

G_GNUC_WARN_UNUSED_RESULT
gboolean mu_daemon_state_save (const MuDaemonState *state, const gchar *state_dir, GError **error);

/* An exclusive flock on STATE_DIR/state.lock, waited for: held only for a load, edit, save;
 * mu_lock_release() drops it. */
G_GNUC_WARN_UNUSED_RESULT
MuLock *mu_daemon_state_lock (const gchar *state_dir, GError **error);

G_END_DECLS
