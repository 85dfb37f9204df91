/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * GRUB's environment block (grubenv), as grub-editenv and GRUB's load_env/save_env read and
 * write it: exactly 1024 bytes, the line "# GRUB Environment Block", then one "name=value"
 * line per variable (and "#" comment lines, kept as they are), then '#' up to the end. The
 * reader is strict: a block of another size, without the header, with a line that is not
 * name=value, a name given twice, a backslash escape (which mediaupd never writes), or
 * anything but '#' after the variables is
 * MU_ERROR_CORRUPT_BOOT_ENV, so that a damaged block is refused and never rewritten.
 */

#include <glib.h>

G_BEGIN_DECLS

#define MU_GRUBENV_SIZE 1024
#define MU_GRUBENV_HEADER "# GRUB Environment Block\n"

typedef struct _MuGrubEnv MuGrubEnv;

MuGrubEnv *mu_grubenv_new (void);
void mu_grubenv_free (MuGrubEnv *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuGrubEnv, mu_grubenv_free)

G_GNUC_WARN_UNUSED_RESULT
MuGrubEnv *mu_grubenv_parse (GBytes *block, GError **error);

/* The 1024-byte block; MU_ERROR_NO_SPACE when the variables do not fit. */
G_GNUC_WARN_UNUSED_RESULT
GBytes *mu_grubenv_serialize (const MuGrubEnv *env, GError **error);

/* The value of @name, or NULL. */
const gchar *mu_grubenv_get (const MuGrubEnv *env, const gchar *name);

/* Names are [A-Za-z0-9_]+; values printable ASCII without a backslash. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_grubenv_set (MuGrubEnv *env, const gchar *name, const gchar *value, GError **error);

/* Reads the block at @path (a regular file, exactly MU_GRUBENV_SIZE bytes). */
G_GNUC_WARN_UNUSED_RESULT
MuGrubEnv *mu_grubenv_load (const gchar *path, GError **error);

/* Replaces the block at @path atomically and durably (a new file renamed over it). */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_grubenv_save (const MuGrubEnv *env, const gchar *path, GError **error);

G_END_DECLS
