/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Larger than any real os-release file; bounds what a tree can make the device read. */
#define MU_OS_RELEASE_MAX_SIZE ((gsize) 64 * 1024)

/* The fields of an os-release(5) file that name the OS an update is for. */
typedef struct {
	gchar *id;         /* ID, or NULL when the file has none */
	gchar *variant_id; /* VARIANT_ID, or NULL */
} MuOsRelease;

void mu_os_release_free (MuOsRelease *os);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuOsRelease, mu_os_release_free)

/*
 * Parses os-release bytes strictly, so that no other reader of the file can see another
 * ID in it: KEY=VALUE lines, comments and blank lines; a value unquoted (no blanks, quotes,
 * backslashes or shell syntax), in single quotes, or in double quotes with only \" \\ \$ \`
 * escaped; a quote closes on its line; no key twice; ID and VARIANT_ID of the characters
 * os-release(5) allows (a-z, 0-9, '.', '_', '-'). Anything else, a NUL byte, invalid UTF-8
 * or more than MU_OS_RELEASE_MAX_SIZE bytes is MU_ERROR_INVALID_ARGUMENT naming the line.
 */
G_GNUC_WARN_UNUSED_RESULT
MuOsRelease *mu_os_release_parse (GBytes *data, GError **error);

G_END_DECLS
