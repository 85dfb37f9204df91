/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "mu-bundle.h"
#include "mu-key.h"
#include "mu-secret.h"
#include "mu-signed-header.h"

G_BEGIN_DECLS

/*
 * An opened bundle: the file held open by descriptor, a read-only loop device over
 * it (named "mediaupd-bundle"), a read-only, private dm-crypt mapping named
 * "mediaupd-..." and the inner filesystem mounted read-only, nosuid, nodev, noexec,
 * nosymfollow (ext4 also noload, errors=remount-ro). Freeing it tears all of it down.
 */
typedef struct _MuUnlocked MuUnlocked;

typedef struct {
	const gchar *run_dir;              /* where the mount point and work files go */
	guint64 max_size;                  /* largest bundle file accepted */
	GPtrArray *trials;                 /* optional: receives a MuKeyTrial per attempt */
	const MuPbkdfLimits *limits;       /* NULL: the defaults */
	const gchar *const *extra_ciphers; /* accepted besides aes-xts-plain64; may be NULL */
	/* Inner filesystem types accepted ("erofs", "squashfs", "ext4"); NULL:
	 * MU_UNLOCK_FILESYSTEMS_DEFAULT. Another type is MU_ERROR_UNSUPPORTED_FORMAT. */
	const gchar *const *filesystems;
} MuUnlockOptions;

#define MU_UNLOCK_FILESYSTEMS_DEFAULT "erofs", "squashfs"

/* The checks before any key is tried: a regular file (no symlink, FIFO or device)
 * of plausible size. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_unlock_check_candidate (const gchar *path, guint64 max_size, guint64 *out_size,
				    GError **error);

/* The same checks on an open file @fd; @name says which file in messages. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_unlock_check_candidate_fd (int fd, const gchar *name, guint64 max_size,
				       guint64 *out_size, GError **error);

/* Opens @path with the first of @keys (MuKey*) that fits, hinted slots first. */
G_GNUC_WARN_UNUSED_RESULT
MuUnlocked *mu_unlock_bundle (const gchar *path, GPtrArray *keys, const MuUnlockOptions *options,
			      GCancellable *cancellable, GError **error);

/* As mu_unlock_bundle(), for the bundle file open as @fd (a duplicate is kept; @fd stays the
 * caller's): nothing is opened by name. @name says which file in messages and logs. */
G_GNUC_WARN_UNUSED_RESULT
MuUnlocked *mu_unlock_bundle_fd (int fd, const gchar *name, GPtrArray *keys,
				 const MuUnlockOptions *options, GCancellable *cancellable,
				 GError **error);

/*
 * Format v2: after a key trial on the bundle file gave @volume_key (of keyslot @slot, key
 * @key_id), opens the verified @header's data path from the file open as @fd (a duplicate
 * is kept): a read-only loop device over the data segment and its hash tree only,
 * dm-verity "mediaupd-verity-..." with the signed root hash, dm-crypt "mediaupd-..." on
 * top, the inner filesystem mounted as for v1. No PBKDF runs here.
 */
G_GNUC_WARN_UNUSED_RESULT
MuUnlocked *mu_unlock_bundle_v2 (int fd, const gchar *name, const MuSignedHeader *header,
				 const MuSecret *volume_key, const gchar *key_id, gint slot,
				 const MuUnlockOptions *options, GError **error);

/* Format v2: the kernel met a block that does not match the signed hash tree. */
gboolean mu_unlocked_is_corrupted (MuUnlocked *unlocked);

/* FALSE once the medium holding the bundle file has gone (its block device is no more). */
gboolean mu_unlocked_medium_present (MuUnlocked *unlocked);

const gchar *mu_unlocked_get_root (MuUnlocked *unlocked);
const gchar *mu_unlocked_get_key_id (MuUnlocked *unlocked);
gint mu_unlocked_get_keyslot (MuUnlocked *unlocked);
const gchar *mu_unlocked_get_dm_name (MuUnlocked *unlocked);
const gchar *mu_unlocked_get_loop_device (MuUnlocked *unlocked);

/* Unmounts, closes the mapping and detaches the loop device: tries all three
 * whatever fails, and reports the first failure. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_unlocked_close (MuUnlocked *unlocked, GError **error);
/* Closes (logging any failure) and frees. */
void mu_unlocked_free (MuUnlocked *unlocked);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuUnlocked, mu_unlocked_free)

/*
 * What a killed install left: unmounts every mount of a "mediaupd-*" mapping (in
 * this mount namespace), then closes those mappings (the dm-crypt ones before the
 * "mediaupd-verity-*" ones they sit on), then detaches the loop
 * devices named "mediaupd-bundle". Run it only when no install is running (at
 * daemon start, or under the install lock). Logs what it removed or could not.
 */
void mu_unlock_cleanup_stale (void);

G_END_DECLS
