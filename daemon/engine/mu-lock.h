/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * One install at a time on a device: an exclusive flock on RUN_DIR/lock, taken without
 * waiting. Whoever installs (mediaupdctl apply --local, the daemon) holds it from before the
 * startup cleanup to the end of the install; the kernel drops it when the holder dies, so a
 * killed install never blocks the next one.
 */
typedef struct _MuLock MuLock;

/* MU_ERROR_BUSY when another process holds the lock; MU_ERROR_IO when it cannot be made. */
G_GNUC_WARN_UNUSED_RESULT
MuLock *mu_lock_acquire (const gchar *run_dir, GError **error);
void mu_lock_release (MuLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuLock, mu_lock_release)

/* An exclusive flock on DIR/NAME, waited for: for short sections such as a load, edit and
 * save of a state file. DIR is made with @dir_mode when missing. MU_ERROR_IO when the lock
 * cannot be made. */
G_GNUC_WARN_UNUSED_RESULT
MuLock *mu_lock_wait (const gchar *dir, const gchar *name, int dir_mode, GError **error);

G_END_DECLS
