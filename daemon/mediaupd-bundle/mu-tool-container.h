/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libcryptsetup.h>

#include "mu-key.h"
#include "mu-secret.h"
#include "mu-signed-header.h"
#include "mu-tool-crypt.h"
#include "mu-tool-image.h"

G_BEGIN_DECLS

/*
 * The LUKS2 side of a v2 bundle, for create and rekey: the header with a fixed data segment,
 * keyslots with their mediaupd-keyid tokens, and the fields of the signed header that come
 * from the LUKS2 header (segment, volume-key digest).
 */

/* The PBKDF of new keyslots, as the options give it. */
typedef struct {
	gchar *type;        /* "pbkdf2" or "argon2id" */
	guint32 iterations; /* pbkdf2 iterations or argon2id time cost */
	guint32 memory_kib; /* argon2id */
	guint32 parallel;   /* argon2id */
} MuToolPbkdf;

void mu_tool_pbkdf_clear (MuToolPbkdf *pbkdf);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuToolPbkdf, mu_tool_pbkdf_clear)

/* From the --pbkdf* options (0 / NULL: not given), with the script's defaults and limits;
 * MU_ERROR_INVALID_ARGUMENT saying what to give instead. */
gboolean mu_tool_pbkdf_from_options (MuToolPbkdf *pbkdf, const gchar *type, gint iterations,
				     gint memory_kib, gint parallel,
				     GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* "pbkdf2-sha256, 1000 iterations", ... */
gchar *mu_tool_pbkdf_describe (const MuToolPbkdf *pbkdf);

/* Reads a raw LUKS key for @id from @path (wiped buffers). */
MuKey *mu_tool_load_key (const gchar *id, const gchar *path,
			 GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Parses "ID=FILE" and loads the key. */
MuKey *mu_tool_load_key_spec (const gchar *spec, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Bytes in front of the data segment: two metadata areas and @keyslot_room keyslots. */
guint64 mu_tool_container_data_offset (guint keyslot_room);

/*
 * Writes a v2 LUKS2 header to @path (open as @fd, already as long as the whole bundle):
 * label, subsystem, the data segment in @cipher with @volume_key, 4096-byte sectors, the v2
 * metadata size, room for @keyslot_room keyslots, and a data segment of exactly @data_size
 * bytes. No keyslot yet. Returns the loaded header.
 */
struct crypt_device *mu_tool_container_format (const gchar *path, int fd, guint keyslot_room,
					       guint64 data_size, const MuToolCipher *cipher,
					       const MuSecret *volume_key,
					       GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Adds a keyslot for @key holding @volume_key with @pbkdf, and its key-id token. The
 * keyslot area is encrypted with aes-xts-plain64 (512-bit) whatever the data cipher:
 * libcryptsetup encrypts keyslots in userspace, where it has no Adiantum without the
 * kernel's AF_ALG, and the device accepts aes-xts keyslots always. */
gboolean mu_tool_container_add_key (struct crypt_device *cd, const MuKey *key,
				    const MuSecret *volume_key,
				    const struct crypt_pbkdf_type *pbkdf, gint *ret_slot,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* @pbkdf as libcryptsetup takes it (no benchmark: the numbers are used as they are). */
void mu_tool_pbkdf_to_crypt (const MuToolPbkdf *pbkdf, struct crypt_pbkdf_type *out);

/* Fills the segment and digest fields of @header from the header dump @dump. */
gboolean mu_tool_container_fill_header (JsonNode *dump, MuSignedHeader *header,
					GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The update fields of @header from the (unsigned) delta @superblock, whose commits must be
 * those of @commits, and the to-commit's os-release in @commits. */
gboolean mu_tool_header_fill_update (MuSignedHeader *header, const MuToolCommits *commits,
				     GBytes *superblock, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
