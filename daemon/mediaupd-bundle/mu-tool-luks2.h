/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libcryptsetup.h>

#include "mu-luks.h"

G_BEGIN_DECLS

/*
 * LUKS2 on a bundle file, for the tools that write bundles (create, rekey): loading the
 * header without locking (unprivileged), its JSON dump, the mediaupd-keyid tokens, and the
 * edits libcryptsetup cannot make: a fixed data segment size, and a data cipher it cannot
 * run here (crypt_format test-encrypts with the data cipher, through device-mapper when
 * userspace has no such cipher, as for Adiantum).
 */

/* crypt_init + crypt_load (LUKS2) of @path, with libcryptsetup's log routed to GLib and no
 * metadata locking. MU_ERROR_NOT_A_BUNDLE if it is no LUKS2 file. */
struct crypt_device *mu_tool_luks2_load (const gchar *path,
					 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The header's JSON (crypt_dump_json) as text and parsed; either return may be NULL. */
gboolean mu_tool_luks2_dump (struct crypt_device *cd, gchar **ret_text, JsonNode **ret_node,
			     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Rewrites the "size" of data segment "0" to @size bytes (libcryptsetup writes "dynamic"),
 * and its "encryption" to @encryption unless that is NULL, in both binary header copies of
 * the LUKS2 file @fd: the JSON area, the sequence id + 1 and the sha256 checksum, as
 * libcryptsetup itself would. The file must not be loaded by anyone while this runs; load
 * it again afterwards.
 */
gboolean mu_tool_luks2_set_segment (int fd, guint64 size, const gchar *encryption,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* A mediaupd-keyid token for @slot and @key_id (v1 and v2 alike). */
gchar *mu_tool_keyid_token_json (gint slot, const gchar *key_id);

/* One active keyslot as the header describes it. */
typedef struct {
	gint slot;
	gchar *pbkdf_type;
	gchar *pbkdf_hash;        /* pbkdf2 only */
	guint32 pbkdf_iterations; /* pbkdf2 iterations, argon2 time cost */
	guint32 pbkdf_memory_kib; /* argon2 only */
	guint32 pbkdf_parallel;   /* argon2 only */
	gint token;               /* its mediaupd-keyid token, or -1 */
	gchar *key_id;            /* from that token, or NULL */
} MuToolKeyslot;

void mu_tool_keyslot_free (MuToolKeyslot *ks);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuToolKeyslot, mu_tool_keyslot_free)

/* The active keyslots of the dump @root (mu_tool_luks2_dump), ascending, with the key ids
 * of their tokens. MU_ERROR_CORRUPT_BUNDLE on a malformed keyslot or keyid token. */
GPtrArray *mu_tool_luks2_list_keyslots (JsonNode *root, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The id of the first token of @type in the dump @root, or -1. */
gint mu_tool_luks2_find_token (JsonNode *root, const gchar *type);

G_END_DECLS
