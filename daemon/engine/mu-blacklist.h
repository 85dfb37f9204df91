/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The commits that failed to boot on this device and were rolled back: STATE_DIR/blacklist,
 * a key file with one group per commit, replaced atomically and durably:
 *
 *   [Commit 0123...cdef]   (the 64-hex OSTree checksum)
 *   Version=4              (its "version" metadata, or absent)
 *   Time=1796345600000000  (when it was rolled back, g_get_real_time())
 *
 * The daemon adds to it when it detects a rollback; the policy check (mu-policy.h) refuses
 * a bundle carrying a listed commit (MU_ERROR_BLACKLISTED) before any key trial of a v2
 * bundle; `mediaupdctl clear-blacklist [COMMIT]` (D-Bus ClearBlacklist) removes entries.
 * A missing file is an empty list. A damaged file is an error (MU_ERROR_IO): an update is
 * then refused rather than risk trying a failed version again, until the file is cleared.
 */

#include <glib.h>

G_BEGIN_DECLS

#define MU_BLACKLIST_FILE "blacklist"

typedef struct {
	gchar *commit;
	gchar *version; /* NULL when the commit had none */
	gint64 time_us;
} MuBlacklistEntry;

/* MuBlacklistEntry*, oldest first. */
G_GNUC_WARN_UNUSED_RESULT
GPtrArray *mu_blacklist_load (const gchar *state_dir, GError **error);

/* The entry for @commit in @entries, or NULL. */
const MuBlacklistEntry *mu_blacklist_find (GPtrArray *entries, const gchar *commit);

/* The commits of @entries, NULL-terminated, owned by @entries. */
GPtrArray *mu_blacklist_commits (GPtrArray *entries);

/* Adds @commit (a valid checksum); adding a listed commit again updates its entry. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_blacklist_add (const gchar *state_dir, const gchar *commit, const gchar *version,
			   GError **error);

/*
 * Removes @commit, or every entry when @commit is NULL (which also replaces a damaged file
 * with an empty list). A @commit that is not listed is MU_ERROR_NOT_FOUND.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_blacklist_clear (const gchar *state_dir, const gchar *commit, GError **error);

G_END_DECLS
