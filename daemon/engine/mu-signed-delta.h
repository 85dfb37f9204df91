/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-ed25519.h"
#include "mu-keyring.h"

G_BEGIN_DECLS

/*
 * OSTree's signed static-delta superblock: the GVariant (taya{sv}) in normal form with
 *   child 0  magic, GUINT64_TO_BE (MU_SIGNED_DELTA_MAGIC): the file starts with "OSTSGNDT"
 *   child 1  the complete unsigned superblock (MU_SUPERBLOCK_FORMAT), the signed message
 *   child 2  a{sv}: MU_SIGN_ED25519_KEY -> aay, one 64-byte Ed25519 signature per key
 * mu_signed_delta_sign() produces exactly what ostree built with ed25519 support writes.
 */

/* The unsigned superblock (ostree's OSTREE_STATIC_DELTA_SUPERBLOCK_FORMAT). */
#define MU_SUPERBLOCK_FORMAT "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"

/*
 * Each signature costs a pass over the superblock per trusted and per revoked key, so
 * both bounds together bound the time of a refusal: at most MAX_SIGNATURES x keys x
 * MAX_SIZE bytes hashed. A vendor signs with one key, two during a key rotation.
 */
#define MU_SIGNED_DELTA_MAX_SIGNATURES 8

/*
 * The largest envelope read or parsed. A superblock holds the to-commit, its detached
 * metadata and one header per part listing the part's objects (33 bytes each): the full
 * delta of the test OS (6113 files, 76 MB in 13 parts) has a 190 KB superblock, a v1->v2
 * delta 600 bytes. 4 MiB is room for about 125000 objects, 20 times the test OS and more
 * than the root filesystem of an embedded device holds; a refusal then hashes at most
 * 8 x keys x 4 MiB (2 s for 16 keys on a 2-core x86 host).
 */
#define MU_SIGNED_DELTA_MAX_SIZE ((gsize) 4 * 1024 * 1024)

typedef struct _MuSignedDelta MuSignedDelta;

/*
 * Parse an envelope. Errors: MU_ERROR_UNSIGNED for a plain (unsigned) superblock or an
 * envelope without ed25519 signatures; MU_ERROR_CORRUPT_DELTA for anything malformed or
 * truncated (bad magic, not normal form, signatures not 64 bytes, wrong value type, more
 * than MU_SIGNED_DELTA_MAX_SIGNATURES signatures, larger than MU_SIGNED_DELTA_MAX_SIZE).
 * The result keeps a reference to @data.
 */
MuSignedDelta *mu_signed_delta_parse (GBytes *data, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void mu_signed_delta_free (MuSignedDelta *delta);

/*
 * Detached ed25519 signatures over @message, as OSTree keeps them for a commit: the
 * "ostree.sign.ed25519" entry (aay) of the commit's detached metadata @metadata (a{sv}).
 * Verify the result with mu_signed_delta_verify(); no such entry is MU_ERROR_UNSIGNED.
 */
MuSignedDelta *mu_signed_delta_new_detached (GBytes *message, GVariant *metadata,
					     GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Child 1: the superblock bytes the signatures cover (transfer none). */
GBytes *mu_signed_delta_get_superblock (MuSignedDelta *delta);
guint mu_signed_delta_get_n_signatures (MuSignedDelta *delta);
/* Signature @index, 64 bytes (transfer none). */
GBytes *mu_signed_delta_get_signature (MuSignedDelta *delta, guint index);

/*
 * Accept if any signature verifies with a trusted key that is not revoked; on success
 * @ret_key (optional) gets that key (transfer full). Errors: MU_ERROR_KEY_REVOKED if a
 * signature verifies only with a revoked key; MU_ERROR_NO_TRUSTED_KEYS if the keyring has
 * no key left after revocation; MU_ERROR_SIGNATURE_INVALID otherwise.
 */
gboolean mu_signed_delta_verify (MuSignedDelta *delta, MuKeyring *keyring, MuEd25519Key **ret_key,
				 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Parse and verify in one go: on success @ret_superblock gets the verified superblock
 * bytes (child 1; transfer full) and @ret_key (optional) the key that verified.
 */
gboolean mu_signed_delta_verify_bytes (GBytes *data, MuKeyring *keyring, GBytes **ret_superblock,
				       MuEd25519Key **ret_key,
				       GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Check that @superblock is a plain superblock in normal form (not already signed):
 * MU_ERROR_INVALID_ARGUMENT if it is an envelope, MU_ERROR_CORRUPT_DELTA otherwise.
 */
gboolean mu_superblock_check (GBytes *superblock, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Wrap @superblock in an envelope with one signature per key of @secret_keys (in order). */
GBytes *mu_signed_delta_sign (GBytes *superblock, MuEd25519SecretKey *const *secret_keys,
			      guint n_secret_keys, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuSignedDelta, mu_signed_delta_free)

G_END_DECLS
