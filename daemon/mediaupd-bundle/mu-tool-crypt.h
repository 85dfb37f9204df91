/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-secret.h"

G_BEGIN_DECLS

/*
 * The two computations of a v2 bundle's body, in userspace, so that the maker needs neither
 * loop devices nor device-mapper:
 *
 *  - the data cipher with 4096-byte sectors, as dm-crypt does it for LUKS2, the IV (plain64)
 *    the little-endian 64-bit number of the sector in 512-byte units from the start of the
 *    segment (4 KiB sector k: 8k): aes-xts-plain64 (a 64-byte key, one XTS data unit per
 *    sector) or xchacha12,aes-adiantum-plain64 (a 32-byte key, one Adiantum message per
 *    sector, the IV zero-padded to its 32-byte tweak; mu-tool-adiantum.h);
 *  - the dm-verity hash tree (format 1, sha256, 4096-byte blocks, salt first in every hash,
 *    no superblock) over the ciphertext, laid out as veritysetup writes it: the top level
 *    first, each level's hash blocks zero-padded.
 */

#define MU_TOOL_SECTOR_SIZE 4096
#define MU_TOOL_XTS_KEY_LEN 64
/* Keyslot areas are encrypted with this, whatever the data cipher (mu-tool-container.h). */
#define MU_TOOL_KEYSLOT_CIPHER "aes-xts-plain64"
/* The largest volume key of the ciphers below. */
#define MU_TOOL_MAX_KEY_LEN MU_TOOL_XTS_KEY_LEN

/* A data cipher that create can write, by its --cipher name. */
typedef struct {
	const gchar *name;        /* "aes-xts-plain64", "adiantum" */
	const gchar *spec;        /* the LUKS2 segment's "encryption" */
	const gchar *luks_cipher; /* crypt_format's cipher and mode */
	const gchar *luks_mode;
	gsize key_len;     /* the volume key */
	gboolean adiantum; /* else aes-xts */
} MuToolCipher;

/* The cipher named @name (its --cipher name or its LUKS2 spec), or NULL. */
const MuToolCipher *mu_tool_cipher_lookup (const gchar *name);
/* The default, aes-xts-plain64. */
const MuToolCipher *mu_tool_cipher_default (void);

/* Bytes of the hash tree for @data_size bytes (a multiple of 4096, at least two blocks). */
guint64 mu_tool_verity_tree_size (guint64 data_size);

/*
 * Encrypts @image_size bytes (a multiple of 4096) of the image @image_fd with @cipher and
 * @volume_key into @out_fd at @data_offset, and writes the hash tree of that ciphertext right
 * after it. Returns the root hash.
 */
gboolean mu_tool_encrypt_image (int image_fd, guint64 image_size, int out_fd, guint64 data_offset,
				const MuToolCipher *cipher, const MuSecret *volume_key,
				GBytes *salt, GBytes **ret_root,
				GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Reads the bundle @fd back: the hash tree recomputed from the ciphertext at @data_offset
 * (@data_size bytes) must equal the one stored after it and give @root; the ciphertext
 * decrypted with @cipher and @volume_key must equal the image @image_fd, when it is >= 0
 * (else @cipher and @volume_key may be NULL: only the hash tree is checked).
 * MU_ERROR_CORRUPT_BUNDLE naming the first difference.
 */
gboolean mu_tool_check_image (int fd, guint64 data_offset, guint64 data_size,
			      const MuToolCipher *cipher, const MuSecret *volume_key, GBytes *salt,
			      GBytes *root, int image_fd, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
