/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <sys/prctl.h>

#include "mu-credentials.h"
#include "mu-device-keys.h"
#include "mu-error.h"
#include "mu-events.h"

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
	const MuKey *ka = *(const MuKey *const *) a;
	const MuKey *kb = *(const MuKey *const *) b;

	return g_strcmp0 (ka->id, kb->id);
}

static void
refuse (const gchar *path, const GError *key_error, GPtrArray *refused)
{
	g_warning ("keys: skipping %s: %s", path, key_error->message);
	if (refused != NULL)
		g_ptr_array_add (refused, g_strdup (key_error->message));
}

/*
 * One directory: every ID.key and ID.cred in it. A sealed ID.cred wins over a plain
 * ID.key of the same id (the plain one is what `keys seal` left behind when it stopped
 * between its rename and its unlink: the same bytes); when the sealed one does not
 * decrypt, the plain one is used.
 */
static void
load_dir (const gchar *dir_path, GHashTable *by_id, GPtrArray *refused)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &error);
	g_autoptr (GHashTable) sealed = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
							       (GDestroyNotify) mu_key_free);
	g_autoptr (GHashTable) plain = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
							      (GDestroyNotify) mu_key_free);
	g_autoptr (GHashTable) plain_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
								    g_free);
	GHashTableIter iter;
	gpointer id_ptr, value;
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

		if (g_str_has_suffix (name, ".key")) {
			path = g_build_filename (dir_path, name, NULL);
			key = mu_key_load_file (path, MU_KEY_LOAD_REQUIRE_PRIVATE, &key_error);
			if (key == NULL) {
				refuse (path, key_error, refused);
				continue;
			}
			g_hash_table_replace (plain_paths, g_strdup (key->id),
					      g_steal_pointer (&path));
			g_hash_table_replace (plain, key->id, key);
		} else if (g_str_has_suffix (name, MU_CREDENTIAL_SUFFIX)) {
			path = g_build_filename (dir_path, name, NULL);
			key = mu_credential_load_key (path, MU_KEY_LOAD_REQUIRE_PRIVATE,
						      &key_error);
			if (key == NULL) {
				refuse (path, key_error, refused);
				continue;
			}
			g_hash_table_replace (sealed, key->id, key);
		}
	}
	g_hash_table_iter_init (&iter, plain);
	while (g_hash_table_iter_next (&iter, &id_ptr, &value)) {
		const gchar *path = g_hash_table_lookup (plain_paths, id_ptr);

		if (g_hash_table_contains (sealed, id_ptr)) {
			g_warning ("keys: %s is sealed beside it; the plain copy is not used, "
				   "remove it with 'mediaupdctl keys seal %s'",
				   path, (const gchar *) id_ptr);
			continue;
		}
		mu_event_key_plain (path, id_ptr);
		g_hash_table_iter_steal (&iter);
		g_hash_table_replace (by_id, ((MuKey *) value)->id, value);
	}
	g_hash_table_iter_init (&iter, sealed);
	while (g_hash_table_iter_next (&iter, NULL, &value)) {
		g_hash_table_iter_steal (&iter);
		g_hash_table_replace (by_id, ((MuKey *) value)->id, value);
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

		g_set_error (
			error, MU_ERROR, MU_ERROR_NO_KEY,
			"this device has no usable LUKS key (ID.cred sealed for this device, or "
			"ID.key, root-only) in %s",
			where);
		return NULL;
	}
	g_ptr_array_sort (keys, compare_ids);
	return g_steal_pointer (&keys);
}
