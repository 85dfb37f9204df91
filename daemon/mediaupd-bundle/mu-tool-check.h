/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-secret.h"
#include "mu-signed-header.h"

G_BEGIN_DECLS

/* The self-check of create on the bundle file @path, as a device would read it. */

/* Each MuKey of @keys opens exactly its keyslot @slots[i], and that slot yields
 * @volume_key; no key opens another key's slot. */
gboolean mu_tool_check_keys (const gchar *path, GPtrArray *keys, const gint *slots,
			     const MuSecret *volume_key, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The mediaupd-signed token and the delta envelope @signed_superblock verify with each of
 * @signing_keys (MuEd25519SecretKey*) alone, and the header matches the LUKS2 header and a
 * file of @file_size bytes. Returns the verified header. */
gboolean mu_tool_check_signatures (const gchar *path, GPtrArray *signing_keys,
				   GBytes *signed_superblock, guint64 file_size,
				   MuSignedHeader **ret_header,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
