/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-key.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-file.h"

#define MU_KEY_FILE_SUFFIX ".key"

gboolean
mu_key_id_is_valid (const gchar *id)
{
	gsize len;

	if (id == NULL || id[0] == '\0' || id[0] == '.')
		return FALSE;
	len = strlen (id);
	if (len > MU_KEY_ID_MAX_LEN)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum (id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
			return FALSE;
	}
	return TRUE;
}

/* Key bytes live in a MuSecret (own locked pages, left out of core dumps), never in the
 * heap or on the stack; it holds the longest key and the byte read past it. */
#define KEY_BUFFER_LEN MU_KEY_BUFFER_LEN
G_STATIC_ASSERT (KEY_BUFFER_LEN <= MU_SECRET_MAX_LEN);

static void
key_buffer_alloc (MuKey *key)
{
	key->secret = mu_secret_new (KEY_BUFFER_LEN);
	key->data = key->secret->data;
}

static gboolean
check_key_length (const gchar *what, gsize len, GError **error)
{
	if (len < MU_LUKS_KEY_MIN_LEN) {
		g_set_error (
			error, MU_ERROR, MU_ERROR_INVALID_KEY,
			"%s holds %" G_GSIZE_FORMAT " bytes, but a bundle key needs at least %d "
			"random bytes; make a new one with 'mediaupd-bundle keygen --luks FILE'",
			what, len, MU_LUKS_KEY_MIN_LEN);
		return FALSE;
	}
	if (len > MU_LUKS_KEY_MAX_LEN) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "%s is longer than %d bytes, so it is not a bundle key; "
			     "give the raw key file that 'mediaupd-bundle keygen --luks' made",
			     what, MU_LUKS_KEY_MAX_LEN);
		return FALSE;
	}
	return TRUE;
}

MuKey *
mu_key_new (const gchar *id, const guint8 *data, gsize len, GError **error)
{
	g_autoptr (MuKey) key = NULL;

	g_return_val_if_fail (id != NULL, NULL);
	g_return_val_if_fail (data != NULL || len == 0, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!mu_key_id_is_valid (id)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "Invalid key id '%s': use 1 to %d characters of A-Z a-z 0-9 . _ -, "
			     "not starting with '.'",
			     id, MU_KEY_ID_MAX_LEN);
		return NULL;
	}
	if (!check_key_length ("The key", len, error))
		return NULL;

	key = g_new0 (MuKey, 1);
	key->id = g_strdup (id);
	key_buffer_alloc (key);
	memcpy (key->data, data, len);
	key->len = len;
	return g_steal_pointer (&key);
}

MuKey *
mu_key_new_take_secret (const gchar *id, MuSecret *secret, gsize len, const gchar *what,
			GError **error)
{
	g_autoptr (MuSecret) owned = secret;
	g_autoptr (MuKey) key = NULL;

	g_return_val_if_fail (id != NULL, NULL);
	g_return_val_if_fail (secret != NULL && len <= secret->len, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!mu_key_id_is_valid (id)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "%s has an invalid key id '%s': use 1 to %d characters of "
			     "A-Z a-z 0-9 . _ -, not starting with '.'",
			     what, id, MU_KEY_ID_MAX_LEN);
		return NULL;
	}
	if (!check_key_length (what, len, error))
		return NULL;
	key = g_new0 (MuKey, 1);
	key->id = g_strdup (id);
	key->secret = g_steal_pointer (&owned);
	key->data = key->secret->data;
	key->len = len;
	return g_steal_pointer (&key);
}

void
mu_key_free (MuKey *key)
{
	if (key == NULL)
		return;
	mu_secret_free (key->secret);
	g_free (key->id);
	g_free (key);
}

gchar *
mu_key_id_from_file_name (const gchar *path)
{
	g_autofree gchar *base = NULL;

	g_return_val_if_fail (path != NULL, NULL);

	base = g_path_get_basename (path);

	if (g_str_has_suffix (base, MU_KEY_FILE_SUFFIX))
		base[strlen (base) - strlen (MU_KEY_FILE_SUFFIX)] = '\0';
	if (!mu_key_id_is_valid (base))
		return NULL;
	return g_steal_pointer (&base);
}

static gboolean
check_key_file_owner (const gchar *path, const struct stat *st, MuKeyLoadFlags flags,
		      GError **error)
{
	if ((flags & MU_KEY_LOAD_REQUIRE_PRIVATE) == 0)
		return TRUE;
	if (st->st_uid != 0 && st->st_uid != geteuid ()) {
		g_set_error (error, MU_ERROR, MU_ERROR_KEY_PERMISSIONS,
			     "Key file '%s' is owned by uid %u; it must belong to root "
			     "('chown root: %s')",
			     path, (guint) st->st_uid, path);
		return FALSE;
	}
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_KEY_PERMISSIONS,
			     "Key file '%s' has mode %04o, so others than its owner can read or "
			     "change it; make it private with 'chmod 0600 %s'",
			     path, (guint) (st->st_mode & 07777), path);
		return FALSE;
	}
	return TRUE;
}

MuKey *
mu_key_load_file (const gchar *path, MuKeyLoadFlags flags, GError **error)
{
	g_autofree gchar *id = NULL;
	g_autofree gchar *what = NULL;
	g_autoptr (MuKey) key = NULL;
	struct stat st;
	gsize len = 0;
	int fd;

	g_return_val_if_fail (path != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	id = mu_key_id_from_file_name (path);
	if (id == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "Key file name '%s' gives no valid key id: name it ID.key, where ID is "
			     "1 to %d characters of A-Z a-z 0-9 . _ - not starting with '.'",
			     path, MU_KEY_ID_MAX_LEN);
		return NULL;
	}

	fd = mu_file_open_regular (path, MU_FILE_NONE, MU_ERROR_INVALID_KEY, &st, error);
	if (fd < 0)
		return NULL;
	if (!check_key_file_owner (path, &st, flags, error)) {
		close (fd);
		return NULL;
	}
	/* Read straight into the key's own buffer, so the secret has no other copy; one
	 * byte more than the longest key tells "too long" from "just right". */
	key = g_new0 (MuKey, 1);
	key->id = g_steal_pointer (&id);
	key_buffer_alloc (key);
	if (!mu_file_read_into (fd, path, key->data, KEY_BUFFER_LEN, &len, error)) {
		close (fd);
		return NULL;
	}
	close (fd);
	what = g_strdup_printf ("Key file '%s'", path);
	if (!check_key_length (what, len, error))
		return NULL;
	key->len = len;
	return g_steal_pointer (&key);
}
