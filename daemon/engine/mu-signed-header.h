/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-ed25519.h"
#include "mu-keyring.h"

G_BEGIN_DECLS

/*
 * The signed header of a format v2 bundle (docs/bundle-format.md, "The signed header").
 *
 * It binds everything a device decides on before it spends a PBKDF: the data segment, the
 * LUKS2 volume-key digest (so every keyslot, whoever added it, must yield the vendor's volume
 * key), the dm-verity parameters and root hash of the ciphertext, and the update, copied from
 * the signed to-commit. Keyslots and key-id tokens are not covered: they can change later.
 *
 * Serialized as a GVariant of type MU_SIGNED_HEADER_FORMAT in normal form (little endian):
 *
 *   (s   magic MU_SIGNED_HEADER_MAGIC (also separates these signatures from delta ones)
 *    u   format version: 2
 *    (ttsuu)     data segment: offset and size in bytes, cipher ("aes-xts-plain64"),
 *                volume key size in bytes, sector size in bytes
 *    (ssuayay)   LUKS2 digest of the volume key: type ("pbkdf2"), hash, iterations, salt,
 *                digest
 *    (tsuuayay)  dm-verity: hash tree offset in bytes from the start of the file, hash
 *                ("sha256"), data block size, hash block size, salt, root hash
 *    (ssssassssttt) the update: os-release ID and VARIANT_ID of the to-commit's tree (""
 *                when it has none), the ref the bundle was made from, the commit's
 *                ostree.collection-binding ("" if none), its ostree.ref-binding list, the
 *                to-commit, the from-commit ("" for a full update), the commit's "version"
 *                ("" if none), the commit timestamp, the sum of the delta parts' sizes and
 *                the sum of their uncompressed sizes)
 *
 * The parser is strict: the exact type, normal form, the magic, version 2, every string
 * valid UTF-8 without NUL, checksums as 64 lowercase hex digits, sizes consistent (offsets
 * and sizes multiples of 4096, the hash tree right after the segment), at most
 * MU_SIGNED_HEADER_MAX_SIZE bytes. Anything else is MU_ERROR_CORRUPT_BUNDLE, except an
 * unknown version or unsupported parameters, which are MU_ERROR_UNSUPPORTED_FORMAT.
 */
#define MU_SIGNED_HEADER_FORMAT "(su(ttsuu)(ssuayay)(tsuuayay)(ssssassssttt))"
#define MU_SIGNED_HEADER_MAGIC "mediaupd-signed-header"
#define MU_SIGNED_HEADER_MAX_SIZE ((gsize) 8192)
#define MU_SIGNED_HEADER_MAX_SIGNATURES 8
#define MU_SIGNED_HEADER_MAX_REF_BINDINGS 16

typedef struct {
	guint32 format; /* MU_BUNDLE_FORMAT_V2 */

	/* The LUKS2 data segment. */
	guint64 data_offset; /* bytes from the start of the file */
	guint64 data_size;   /* bytes, a multiple of sector_size */
	gchar *cipher;       /* "aes-xts-plain64" */
	guint32 key_size;    /* volume key bytes: 64 */
	guint32 sector_size; /* 4096 */

	/* The LUKS2 digest of the volume key. */
	gchar *digest_type; /* "pbkdf2" */
	gchar *digest_hash; /* "sha256" */
	guint32 digest_iterations;
	GBytes *digest_salt;
	GBytes *digest;

	/* dm-verity over the ciphertext (format 1, no superblock). */
	guint64 hash_offset; /* bytes from the start of the file: data_offset + data_size */
	gchar *verity_hash;  /* "sha256" */
	guint32 data_block_size;
	guint32 hash_block_size;
	GBytes *verity_salt;
	GBytes *root_hash;

	/* The update: what the signed to-commit says, and what the delta needs. */
	gchar *os_id;              /* "" if the tree's os-release has none */
	gchar *os_variant_id;      /* "" if none */
	gchar *ref;                /* the ref the maker shipped */
	gchar *collection_binding; /* "" if none */
	GStrv ref_bindings;        /* never NULL; may be empty */
	gchar *to_commit;
	gchar *from_commit; /* "" for a full update */
	gchar *version;     /* "" if none */
	guint64 timestamp;
	guint64 total_compressed;   /* sum of the delta part sizes */
	guint64 total_uncompressed; /* sum of their uncompressed sizes */
} MuSignedHeader;

void mu_signed_header_free (MuSignedHeader *header);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuSignedHeader, mu_signed_header_free)

/* The canonical bytes of @header (validated as the parser would; NULL and an error if not). */
GBytes *mu_signed_header_serialize (const MuSignedHeader *header,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Strict parse of canonical bytes (see above). */
MuSignedHeader *mu_signed_header_parse (GBytes *bytes, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Size of the dm-verity hash tree (format 1, no superblock) for @data_size bytes with the
 * block sizes of @header, in bytes; the file must end right after it. */
guint64 mu_signed_header_hash_tree_size (const MuSignedHeader *header);

/*
 * The mediaupd-signed token: the header's bytes and its signatures.
 */
typedef struct _MuSignedToken MuSignedToken;

/* Strict parse of the token JSON (type, empty keyslots, base64 fields, at most
 * MU_SIGNED_HEADER_MAX_SIGNATURES signatures of 64 bytes); the header bytes are NOT parsed
 * or verified yet. MU_ERROR_CORRUPT_BUNDLE if malformed. */
MuSignedToken *mu_signed_token_parse_json (const gchar *json,
					   GError **error) G_GNUC_WARN_UNUSED_RESULT;
void mu_signed_token_free (MuSignedToken *token);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuSignedToken, mu_signed_token_free)

GBytes *mu_signed_token_get_header_bytes (MuSignedToken *token);
guint mu_signed_token_get_n_signatures (MuSignedToken *token);

/*
 * Verifies the signatures over the header bytes against @keyring (trusted minus revoked, as
 * for deltas: mu_signed_delta_verify's errors, MU_ERROR_UNSIGNED when there is none), then
 * parses the header. Returns the header and the key that verified it.
 */
MuSignedHeader *mu_signed_token_verify (MuSignedToken *token, MuKeyring *keyring,
					MuEd25519Key **ret_key,
					GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The header, parsed but NOT verified: for showing what a bundle claims (inspect). */
MuSignedHeader *mu_signed_token_peek_header (MuSignedToken *token,
					     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Token JSON for @header signed by each of @secret_keys, in order. */
gchar *mu_signed_token_build_json (const MuSignedHeader *header,
				   MuEd25519SecretKey *const *secret_keys, guint n_secret_keys,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * The live LUKS2 header (libcryptsetup's crypt_dump_json) matches @header: exactly one
 * segment, of type crypt, with the signed offset, fixed size, cipher, sector size, iv_tweak
 * 0 and no integrity; exactly one digest, for that segment, with the signed type, hash,
 * iterations, salt and digest; and the file is exactly @file_size =
 * hash_offset + mu_signed_header_hash_tree_size() bytes long. MU_ERROR_CORRUPT_BUNDLE
 * naming the first difference otherwise.
 */
gboolean mu_signed_header_check_luks (const MuSignedHeader *header, const gchar *luks_json,
				      guint64 file_size, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
