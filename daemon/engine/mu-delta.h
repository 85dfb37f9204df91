/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-keyring.h"

G_BEGIN_DECLS

/*
 * What a verified OSTree static delta superblock says, decoded from its bytes alone.
 * Everything the device decides (OS, version, timestamp, space) comes from here, so
 * only ever feed it the bytes that the signature covered.
 */
typedef struct {
	gchar *from_commit;        /* NULL for a full (--empty) delta */
	gchar *to_commit;          /* checked: the SHA-256 of @commit */
	GVariant *commit;          /* the to-commit object, (a{sv}aya(say)sstayay) */
	guint64 timestamp;         /* the to-commit's timestamp, seconds */
	gchar *version;            /* "version" commit metadata, or NULL */
	GStrv ref_bindings;        /* "ostree.ref-binding", or NULL */
	gchar *collection_binding; /* "ostree.collection-binding", or NULL */
	GVariant *commit_detached; /* the to-commit's detached metadata (a{sv}) that the
				    * delta carries ("deltas/.../commitmeta"), or NULL */
	guint n_parts;
	guint64 *part_compressed; /* n_parts sizes as stored in the bundle */
	guint64 *part_uncompressed;
	GStrv part_checksums; /* n_parts SHA-256 of the part files, hex */
	guint64 total_compressed;
	guint64 total_uncompressed;
} MuDeltaInfo;

void mu_delta_info_free (MuDeltaInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuDeltaInfo, mu_delta_info_free)

/* Decodes an unsigned superblock (the envelope's payload). Malformed input, a commit
 * that does not match its checksum, or HTTP fallback objects: MU_ERROR_CORRUPT_DELTA. */
G_GNUC_WARN_UNUSED_RESULT
MuDeltaInfo *mu_delta_info_new (GBytes *superblock, GError **error);

/*
 * A to-commit that carries its own ed25519 signature (detached metadata travelling in the
 * delta) must verify too, with the same trusted and revoked keys: a commit signed by an
 * untrusted or revoked key is refused even inside a delta signed by a trusted key. A
 * commit without such a signature passes.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_delta_info_verify_commit_signature (const MuDeltaInfo *info, MuKeyring *keyring,
						GError **error);

G_END_DECLS
