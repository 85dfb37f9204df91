/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-bundle.h"
#include "mu-delta.h"
#include "mu-keyring.h"
#include "mu-policy.h"
#include "mu-secret.h"
#include "mu-signed-header.h"

G_BEGIN_DECLS

/*
 * Format v2 on the device, before and after the key trial (docs/bundle-format.md, "Format
 * v2"): what the signed header lets the device decide without any key, and what the
 * signed delta found inside must then agree with.
 */

/*
 * For a v2 @bundle whose LUKS2 header was read from the file (mu_bundle_open_device), in
 * this order and before any PBKDF: the keyslot and segment encryption against the format
 * and the accepted ciphers (mu_bundle_set_extra_ciphers), no integrity; exactly one
 * mediaupd-signed token; its signatures against @keyring (trusted minus revoked); the live
 * LUKS2 header's segment, volume-key digest and the file's size against the signed
 * header; the signed cipher accepted. Returns the verified header and the key that
 * verified it. Errors: those of the signature (MU_ERROR_UNSIGNED, SIGNATURE_INVALID,
 * KEY_REVOKED, NO_TRUSTED_KEYS), MU_ERROR_CORRUPT_BUNDLE, MU_ERROR_UNSUPPORTED_FORMAT.
 */
MuSignedHeader *mu_bundle_v2_verify (MuBundle *bundle, MuKeyring *keyring, MuEd25519Key **ret_key,
				     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The policy's view of the update the verified @header describes; the pointers are into
 * @header. The bytes needed are the objects and the checked copy of the parts, as for v1. */
void mu_bundle_v2_policy_update (const MuSignedHeader *header, MuPolicyUpdate *update);

/* For a commit bound to no ref or collection: the os-release ID and VARIANT_ID that
 * @header copied from its tree, against the booted tree (mu_policy_check_tree_os). */
gboolean mu_bundle_v2_check_tree_os (const MuSignedHeader *header, const MuPolicySystem *system,
				     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * The verified delta superblock found inside the bundle describes the update that the
 * signed header promised: the same to- and from-commit, timestamp, version, bindings and
 * part sizes. MU_ERROR_CORRUPT_BUNDLE naming the first difference otherwise.
 */
gboolean mu_bundle_v2_check_delta (const MuSignedHeader *header, const MuDeltaInfo *info,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The volume key that the last successful mu_bundle_try_keys() read into locked memory,
 * owned by @bundle; NULL before. */
const MuSecret *mu_bundle_get_volume_key (MuBundle *bundle);

G_END_DECLS
