/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <ostree.h>

#include "mu-blacklist.h"
#include "mu-error.h"
#include "mu-file.h"

#define GROUP_PREFIX "Commit "
/* Thousands of entries: a larger file is not ours. */
#define BLACKLIST_MAX_SIZE (256 * 1024)

static void
entry_free (MuBlacklistEntry *e)
{
	g_free (e->commit);
	g_free (e->version);
	g_free (e);
}

static gboolean
damaged (GError **error, const gchar *path, const gchar *what)
{
	g_set_error (error, MU_ERROR, MU_ERROR_IO,
		     "the blacklist %s is damaged (%s); no update is accepted until it is "
		     "cleared with 'mediaupdctl clear-blacklist'",
		     path, what);
	return FALSE;
}

GPtrArray *
mu_blacklist_load (const gchar *state_dir, GError **error)
{
	g_autofree gchar *path = g_build_filename (state_dir, MU_BLACKLIST_FILE, NULL);
	g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (
		(GDestroyNotify) entry_free);
	g_autoptr (GKeyFile) kf = g_key_file_new ();
	g_autoptr (GBytes) data = NULL;
	g_autoptr (GError) local_error = NULL;
	g_auto (GStrv) groups = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	data = mu_file_read_regular (path, BLACKLIST_MAX_SIZE, MU_FILE_NOFOLLOW, MU_ERROR_IO,
				     &local_error);
	if (data == NULL) {
		if (g_error_matches (local_error, MU_ERROR, MU_ERROR_NOT_FOUND))
			return g_steal_pointer (&entries);
		(void) damaged (error, path, local_error->message);
		return NULL;
	}
	if (!g_key_file_load_from_data (kf, g_bytes_get_data (data, NULL), g_bytes_get_size (data),
					G_KEY_FILE_NONE, &local_error)) {
		(void) damaged (error, path, local_error->message);
		return NULL;
	}
	groups = g_key_file_get_groups (kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		const gchar *commit = groups[i] + strlen (GROUP_PREFIX);
		MuBlacklistEntry *e;

		if (!g_str_has_prefix (groups[i], GROUP_PREFIX) ||
		    !ostree_validate_checksum_string (commit, NULL)) {
			g_autofree gchar *what = g_strdup_printf ("group [%s] is no commit",
								  groups[i]);

			(void) damaged (error, path, what);
			return NULL;
		}
		e = g_new0 (MuBlacklistEntry, 1);
		e->commit = g_strdup (commit);
		e->version = g_key_file_get_string (kf, groups[i], "Version", NULL);
		e->time_us = g_key_file_get_int64 (kf, groups[i], "Time", NULL);
		g_ptr_array_add (entries, e);
	}
	return g_steal_pointer (&entries);
}

const MuBlacklistEntry *
mu_blacklist_find (GPtrArray *entries, const gchar *commit)
{
	for (guint i = 0; commit != NULL && i < entries->len; i++) {
		const MuBlacklistEntry *e = entries->pdata[i];

		if (g_str_equal (e->commit, commit))
			return e;
	}
	return NULL;
}

GPtrArray *
mu_blacklist_commits (GPtrArray *entries)
{
	GPtrArray *commits = g_ptr_array_new ();

	for (guint i = 0; i < entries->len; i++)
		g_ptr_array_add (commits, ((MuBlacklistEntry *) entries->pdata[i])->commit);
	g_ptr_array_add (commits, NULL);
	return commits;
}

static gboolean
save (const gchar *state_dir, GPtrArray *entries, GError **error)
{
	g_autofree gchar *path = g_build_filename (state_dir, MU_BLACKLIST_FILE, NULL);
	g_autoptr (GKeyFile) kf = g_key_file_new ();
	g_autoptr (GError) local_error = NULL;
	g_autofree gchar *data = NULL;
	gsize len = 0;

	for (guint i = 0; i < entries->len; i++) {
		const MuBlacklistEntry *e = entries->pdata[i];
		g_autofree gchar *group = g_strconcat (GROUP_PREFIX, e->commit, NULL);

		if (e->version != NULL)
			g_key_file_set_string (kf, group, "Version", e->version);
		g_key_file_set_int64 (kf, group, "Time", e->time_us);
	}
	data = g_key_file_to_data (kf, &len, NULL);
	if (g_mkdir_with_parents (state_dir, 0755) < 0) {
		mu_error_set_errno (error, errno, "cannot make %s", state_dir);
		return FALSE;
	}
	if (!g_file_set_contents_full (path, data, (gssize) len,
				       G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				       0644, &local_error)) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot save the blacklist %s: %s", path,
			     local_error->message);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_blacklist_add (const gchar *state_dir, const gchar *commit, const gchar *version, GError **error)
{
	g_autoptr (GPtrArray) entries = NULL;
	MuBlacklistEntry *e;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!ostree_validate_checksum_string (commit, NULL)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "'%s' is not an OSTree commit checksum", commit);
		return FALSE;
	}
	entries = mu_blacklist_load (state_dir, error);
	if (entries == NULL)
		return FALSE;
	e = (MuBlacklistEntry *) mu_blacklist_find (entries, commit);
	if (e == NULL) {
		e = g_new0 (MuBlacklistEntry, 1);
		e->commit = g_strdup (commit);
		g_ptr_array_add (entries, e);
	}
	g_free (e->version);
	e->version = version != NULL && *version != '\0' ? g_strdup (version) : NULL;
	e->time_us = g_get_real_time ();
	return save (state_dir, entries, error);
}

gboolean
mu_blacklist_clear (const gchar *state_dir, const gchar *commit, GError **error)
{
	g_autoptr (GPtrArray) entries = NULL;
	const MuBlacklistEntry *e;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (commit == NULL) {
		g_autoptr (GPtrArray) none = g_ptr_array_new ();

		return save (state_dir, none, error);
	}
	entries = mu_blacklist_load (state_dir, error);
	if (entries == NULL)
		return FALSE;
	e = mu_blacklist_find (entries, commit);
	if (e == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_FOUND,
			     "commit '%s' is not on the blacklist; 'mediaupdctl status' lists it",
			     commit);
		return FALSE;
	}
	g_ptr_array_remove (entries, (gpointer) e);
	return save (state_dir, entries, error);
}
