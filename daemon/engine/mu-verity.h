/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-secret.h"
#include "mu-signed-header.h"

G_BEGIN_DECLS

/*
 * The data path of a format v2 bundle, stacked on a read-only loop device over the data
 * segment and its hash tree: dm-verity with the signed root hash over the ciphertext, and
 * dm-crypt (a plain mapping with the volume key) on top, so that the kernel decrypts and
 * parses only blocks the vendor signed. Both read-only and private (udev rules neither
 * probe nor publish them).
 */

/* Name prefix of the verity mappings; the dm-crypt ones are "mediaupd-" and 8 hex digits. */
#define MU_VERITY_DM_PREFIX "mediaupd-verity-"

/*
 * dm-verity @name over @device, which holds the ciphertext (data_size bytes from its start)
 * and then the hash tree: format 1 without superblock, the signed hash, block sizes, salt
 * and root hash of @header. MU_ERROR_FAILED if the kernel refuses it.
 */
gboolean mu_verity_activate (const gchar *device, const MuSignedHeader *header, const gchar *name,
			     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * dm-crypt @name over @device (the verity mapping) as a plain mapping of the signed data
 * segment: the signed cipher with @volume_key, 4096-byte sectors, data_size bytes from
 * offset 0, IVs counted as LUKS2 counts them (512-byte units from the segment's start).
 */
gboolean mu_verity_activate_crypt (const gchar *device, const MuSignedHeader *header,
				   const MuSecret *volume_key, const gchar *name,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* TRUE when the kernel found a block of verity mapping @name that does not match its
 * hash tree (the device-mapper status says "C"). */
gboolean mu_verity_is_corrupted (const gchar *name);

/* Replaces *@error (set) with MU_ERROR_CORRUPT_BUNDLE saying that a block failed dm-verity,
 * keeping the original message as the detail. */
void mu_verity_set_corrupt_error (GError **error);

G_END_DECLS
