/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <sys/prctl.h>

#include "mu-device-keys.h"
#include "mu-error.h"

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
	const MuKey *ka = *(const MuKey *const *) a;
	const MuKey *kb = *(const MuKey *const *) b;

	return g_strcmp0 (ka->id, kb->id);
}

static void
load_dir (const gchar *dir_path, GHashTable *by_id, GPtrArray *refused)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &error);
	const gchar *name;

	if (dir == NULL) {
		if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning ("keys: cannot read key directory %s: %s", dir_path,
				   error->message);
		return;
	}
	while ((name = g_dir_read_name (dir)) != NULL) {
		g_autofree gchar *path = NULL;
		g_autoptr (GError) key_error = NULL;
		MuKey *key;

		if (!g_str_has_suffix (name, ".key"))
			continue;
		path = g_build_filename (dir_path, name, NULL);
		key = mu_key_load_file (path, MU_KEY_LOAD_REQUIRE_PRIVATE, &key_error);
		if (key == NULL) {
			g_warning ("keys: skipping %s: %s", path, key_error->message);
			if (refused != NULL)
				g_ptr_array_add (refused, g_strdup (key_error->message));
			continue;
		}
		g_hash_table_replace (by_id, key->id, key);
	}
}

GPtrArray *
mu_device_keys_load (const gchar *const *dirs, GPtrArray *refused, GError **error)
{
	g_autoptr (GHashTable) by_id = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
							      (GDestroyNotify) mu_key_free);
	g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_free);
	GHashTableIter iter;
	gpointer value;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	/* No core dump of a process that holds device keys (the key pages are left out of
	 * dumps as well); this also keeps other users' debuggers out of it. */
	if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		g_warning ("keys: cannot turn off core dumps: %s", g_strerror (errno));
	for (guint i = 0; dirs != NULL && dirs[i] != NULL; i++)
		load_dir (dirs[i], by_id, refused);
	g_hash_table_iter_init (&iter, by_id);
	while (g_hash_table_iter_next (&iter, NULL, &value)) {
		g_hash_table_iter_steal (&iter);
		g_ptr_array_add (keys, value);
	}
	if (keys->len == 0) {
		g_autofree gchar *where = g_strjoinv (", ", (GStrv) dirs);

		g_set_error (error, MU_ERROR, MU_ERROR_NO_KEY,
			     "this device has no usable LUKS key (ID.key, root-only) in %s", where);
		return NULL;
	}
	g_ptr_array_sort (keys, compare_ids);
	return g_steal_pointer (&keys);
}
