/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Constants of the mediaupd bundle format, version 1 (docs/bundle-format.md).
 * scripts/make-encrypted-bundle.sh writes the same values.
 */

/* LUKS2 label and subsystem: readable without a key, checked before any PBKDF. */
#define MU_BUNDLE_LUKS_LABEL "mediaupd-bundle"
#define MU_BUNDLE_LUKS_SUBSYSTEM_V1 "mediaupd-v1"
#define MU_BUNDLE_LUKS_SUBSYSTEM_PREFIX "mediaupd-v"

/* LUKS2 token mapping one keyslot to the vendor's key id:
 * {"type":"mediaupd-keyid","keyslots":["N"],"key_id":"main-2026"} */
#define MU_BUNDLE_TOKEN_TYPE "mediaupd-keyid"
#define MU_BUNDLE_TOKEN_KEY_ID "key_id"

/* Key ids are file names on the device (ID.key): [A-Za-z0-9._-], not starting with '.'. */
#define MU_KEY_ID_MAX_LEN 64

/* Device encryption keys: random bytes, at least this many. */
#define MU_LUKS_KEY_MIN_LEN 32
#define MU_LUKS_KEY_MAX_LEN 512

/* Inside the inner filesystem image. */
#define MU_BUNDLE_DELTA_DIR "delta"
#define MU_BUNDLE_SUPERBLOCK "superblock"
#define MU_BUNDLE_MANIFEST "manifest"

/* Default file name of a bundle at the root of the stick. */
#define MU_BUNDLE_DEFAULT_NAME "static-update.bundle.enc"

/* OSTree's signed delta envelope: (taya{sv}) with magic "OSTSGNDT". */
#define MU_SIGNED_DELTA_FORMAT "(taya{sv})"
#define MU_SIGNED_DELTA_MAGIC G_GUINT64_CONSTANT (0x4F535453474E4454)
#define MU_SIGN_ED25519_KEY "ostree.sign.ed25519"
#define MU_ED25519_PUBLIC_KEY_LEN 32
#define MU_ED25519_SECRET_KEY_LEN 64
#define MU_ED25519_SIGNATURE_LEN 64
