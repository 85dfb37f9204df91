/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-bundle-format.h"
#include "mu-secret.h"

G_BEGIN_DECLS

/*
 * A device's symmetric bundle key: a non-secret key id (the vendor's name for
 * it, e.g. "main-2026", which is also the key file's name "main-2026.key") and
 * the secret bytes. The secret lives in a page-sized mapping of its own, left out
 * of core dumps (MADV_DONTDUMP), locked in memory where the limit allows, and
 * wiped when the key is freed; it is never printed or logged.
 */
typedef struct {
	gchar *id;    /* valid per mu_key_id_is_valid() */
	guint8 *data; /* MU_LUKS_KEY_MIN_LEN..MU_LUKS_KEY_MAX_LEN secret bytes */
	gsize len;
	MuSecret *secret; /* owns @data */
} MuKey;

typedef enum {
	MU_KEY_LOAD_NONE = 0,
	/* Refuse a key file that is not a regular file owned by root (or by the
	 * calling user) or that group or others may read or write: the device's
	 * key directories. */
	MU_KEY_LOAD_REQUIRE_PRIVATE = 1 << 0,
} MuKeyLoadFlags;

/* Key ids name files on the device (ID.key): 1..MU_KEY_ID_MAX_LEN characters
 * of [A-Za-z0-9._-], not starting with '.'. */
gboolean mu_key_id_is_valid (const gchar *id);

/* "dir/main-2026.key" -> "main-2026" (the ".key" suffix is optional); NULL when the file
 * name gives no valid key id. */
gchar *mu_key_id_from_file_name (const gchar *path) G_GNUC_WARN_UNUSED_RESULT;

/* Copies @data (which must be MU_LUKS_KEY_MIN_LEN..MU_LUKS_KEY_MAX_LEN bytes)
 * into a new key named @id. MU_ERROR_INVALID_KEY for a bad id or length. */
MuKey *mu_key_new (const gchar *id, const guint8 *data, gsize len,
		   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Reads a raw key file. The key id is the file name without its directory and
 * without a trailing ".key" ("/etc/mediaupd/keys/main-2026.key" -> "main-2026").
 * Errors: MU_ERROR_NOT_FOUND (no such file), MU_ERROR_INVALID_KEY (not a
 * regular file, shorter than MU_LUKS_KEY_MIN_LEN or longer than
 * MU_LUKS_KEY_MAX_LEN bytes, or a name that gives no valid key id),
 * MU_ERROR_KEY_PERMISSIONS (with MU_KEY_LOAD_REQUIRE_PRIVATE), MU_ERROR_IO.
 */
MuKey *mu_key_load_file (const gchar *path, MuKeyLoadFlags flags,
			 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The size of the secret buffer a key's bytes are read into: the longest key and the
 * byte read past it, which tells "too long" from "just right". */
#define MU_KEY_BUFFER_LEN (MU_LUKS_KEY_MAX_LEN + 1)

/*
 * A key named @id whose @len bytes are at the start of @secret, which the key takes
 * (freed on failure too), so that bytes read straight into secret memory get no other
 * copy. @what names the source in messages ("Sealed key '/etc/...'"). MU_ERROR_INVALID_KEY
 * for a bad id or length.
 */
MuKey *mu_key_new_take_secret (const gchar *id, MuSecret *secret, gsize len, const gchar *what,
			       GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Wipes the secret and frees the key. NULL is allowed. */
void mu_key_free (MuKey *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuKey, mu_key_free)

G_END_DECLS
