/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Constants of the mediaupd bundle format, version 1 (docs/bundle-format.md).
 * tests/unit/make-v1-bundle.sh (legacy format 1, tests only) writes the same values.
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

/*
 * Format v2 (docs/bundle-format.md, "Format v2"): the signed header comes first.
 *
 *   [LUKS2 header: 2 x 64 KiB metadata, keyslots area][data segment: ciphertext, fixed size]
 *   [dm-verity hash tree over the ciphertext, format 1, no superblock]
 */
#define MU_BUNDLE_LUKS_SUBSYSTEM_V2 "mediaupd-v2"
#define MU_BUNDLE_FORMAT_V2 2

/* The LUKS2 token holding the signed header and its signatures, assigned to no keyslot:
 * {"type":"mediaupd-signed","keyslots":[],"header":"BASE64","signatures":["BASE64",...]} */
#define MU_BUNDLE_SIGNED_TOKEN_TYPE "mediaupd-signed"
#define MU_BUNDLE_SIGNED_TOKEN_HEADER "header"
#define MU_BUNDLE_SIGNED_TOKEN_SIGNATURES "signatures"

/* v2 LUKS2 geometry: one JSON metadata area of 64 KiB (two copies), then a keyslots area with
 * room for MU_BUNDLE_V2_KEYSLOT_ROOM_DEFAULT keyslots unless the maker asks for more, so that
 * rekeying can add keys later. A keyslot of a 512-bit volume key with 4000 AF stripes: 258048
 * bytes. */
#define MU_BUNDLE_V2_METADATA_SIZE (64 * 1024)
#define MU_BUNDLE_KEYSLOT_AREA_SIZE 258048
#define MU_BUNDLE_V2_KEYSLOT_ROOM_DEFAULT 8
#define MU_BUNDLE_MAX_KEYSLOTS 32
/* LUKS2 has room for 32 tokens: one key-id token per key and the signed header's token. */
#define MU_BUNDLE_V2_MAX_KEYS (MU_BUNDLE_MAX_KEYSLOTS - 1)

/* dm-verity over the ciphertext: format 1, sha256, 4 KiB data and hash blocks, 32-byte salt. */
#define MU_BUNDLE_VERITY_HASH "sha256"
#define MU_BUNDLE_VERITY_BLOCK_SIZE 4096
#define MU_BUNDLE_VERITY_SALT_LEN 32
#define MU_BUNDLE_VERITY_ROOT_LEN 32
