/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-keyring.h"

struct _MuKeyring {
	GPtrArray *trusted; /* MuEd25519Key, as read (may hold duplicates) */
	GPtrArray *revoked; /* MuEd25519Key */
};

MuKeyring *
mu_keyring_new (void)
{
	MuKeyring *keyring = g_new0 (MuKeyring, 1);

	keyring->trusted = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_ed25519_key_unref);
	keyring->revoked = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_ed25519_key_unref);
	return keyring;
}

void
mu_keyring_free (MuKeyring *keyring)
{
	if (keyring == NULL)
		return;
	g_ptr_array_unref (keyring->trusted);
	g_ptr_array_unref (keyring->revoked);
	g_free (keyring);
}

static gboolean
contains_key (GPtrArray *keys, MuEd25519Key *key)
{
	for (guint i = 0; i < keys->len; i++) {
		if (mu_ed25519_key_equal (g_ptr_array_index (keys, i), key))
			return TRUE;
	}
	return FALSE;
}

void
mu_keyring_add_trusted_key (MuKeyring *keyring, MuEd25519Key *key)
{
	g_return_if_fail (keyring != NULL && key != NULL);
	g_ptr_array_add (keyring->trusted, mu_ed25519_key_ref (key));
}

void
mu_keyring_add_revoked_key (MuKeyring *keyring, MuEd25519Key *key)
{
	g_return_if_fail (keyring != NULL && key != NULL);
	g_ptr_array_add (keyring->revoked, mu_ed25519_key_ref (key));
}

gboolean
mu_keyring_is_revoked (MuKeyring *keyring, MuEd25519Key *key)
{
	g_return_val_if_fail (keyring != NULL && key != NULL, FALSE);
	return contains_key (keyring->revoked, key);
}

GPtrArray *
mu_keyring_get_effective_keys (MuKeyring *keyring)
{
	GPtrArray *keys;

	g_return_val_if_fail (keyring != NULL, NULL);

	keys = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_ed25519_key_unref);
	for (guint i = 0; i < keyring->trusted->len; i++) {
		MuEd25519Key *key = g_ptr_array_index (keyring->trusted, i);

		if (contains_key (keyring->revoked, key) || contains_key (keys, key))
			continue;
		g_ptr_array_add (keys, mu_ed25519_key_ref (key));
	}
	return keys;
}

GPtrArray *
mu_keyring_get_revoked_keys (MuKeyring *keyring)
{
	g_return_val_if_fail (keyring != NULL, NULL);
	return g_ptr_array_ref (keyring->revoked);
}

guint
mu_keyring_get_n_trusted (MuKeyring *keyring)
{
	g_autoptr (GPtrArray) keys = NULL;

	g_return_val_if_fail (keyring != NULL, 0);
	keys = mu_keyring_get_effective_keys (keyring);
	return keys->len;
}

/* The first key of @keys that made any of @signatures over @message, or NULL. */
static MuEd25519Key *
find_signer (GBytes *message, GPtrArray *signatures, GPtrArray *keys)
{
	gsize msg_len;
	const guint8 *msg = g_bytes_get_data (message, &msg_len);

	for (guint s = 0; s < signatures->len; s++) {
		gsize sig_len;
		const guint8 *sig = g_bytes_get_data (signatures->pdata[s], &sig_len);

		for (guint k = 0; k < keys->len; k++) {
			MuEd25519Key *key = g_ptr_array_index (keys, k);

			if (mu_ed25519_key_verify (key, msg, msg_len, sig, sig_len))
				return key;
		}
	}
	return NULL;
}

gboolean
mu_keyring_verify_signatures (MuKeyring *keyring, GBytes *message, GPtrArray *signatures,
			      const gchar *subject, MuEd25519Key **ret_key, GError **error)
{
	g_autoptr (GPtrArray) effective = NULL;
	g_autoptr (GPtrArray) revoked = NULL;
	MuEd25519Key *signer;

	g_return_val_if_fail (keyring != NULL, FALSE);
	g_return_val_if_fail (message != NULL && signatures != NULL && subject != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (signatures->len == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSIGNED,
			     "%s carries no ed25519 signature; sign it with the vendor's key",
			     subject);
		return FALSE;
	}
	effective = mu_keyring_get_effective_keys (keyring);
	signer = find_signer (message, signatures, effective);
	if (signer != NULL) {
		if (ret_key != NULL)
			*ret_key = mu_ed25519_key_ref (signer);
		return TRUE;
	}
	revoked = mu_keyring_get_revoked_keys (keyring);
	signer = find_signer (message, signatures, revoked);
	if (signer != NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_KEY_REVOKED,
			     "%s is signed with key %s, which is revoked (listed in %s); an "
			     "update signed with a current key is needed",
			     subject, mu_ed25519_key_get_id (signer),
			     mu_ed25519_key_get_origin (signer));
		return FALSE;
	}
	if (effective->len == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_NO_TRUSTED_KEYS,
			     "no trusted ed25519 public key is available (%u revoked); install "
			     "the vendor's public key among the trusted keys",
			     revoked->len);
		return FALSE;
	}
	g_set_error (error, MU_ERROR, MU_ERROR_SIGNATURE_INVALID,
		     "none of the %u signature(s) verifies with any of the %u trusted key(s); "
		     "%s was signed with another key or was modified after signing",
		     signatures->len, effective->len, subject);
	return FALSE;
}

static gboolean
is_blank (GBytes *contents)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data (contents, &len);

	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isspace (data[i]))
			return FALSE;
	return TRUE;
}

static gboolean
add_bytes (GPtrArray *set, GBytes *contents, const gchar *file_name, GError **error)
{
	g_autoptr (GPtrArray) keys = mu_ed25519_parse_public_keys (contents, file_name, error);

	if (keys == NULL)
		return FALSE;
	for (guint i = 0; i < keys->len; i++)
		g_ptr_array_add (set, mu_ed25519_key_ref (g_ptr_array_index (keys, i)));
	return TRUE;
}

gboolean
mu_keyring_add_trusted_bytes (MuKeyring *keyring, GBytes *contents, const gchar *file_name,
			      GError **error)
{
	g_return_val_if_fail (keyring != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	return add_bytes (keyring->trusted, contents, file_name, error);
}

gboolean
mu_keyring_add_revoked_bytes (MuKeyring *keyring, GBytes *contents, const gchar *file_name,
			      GError **error)
{
	g_return_val_if_fail (keyring != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	/* An empty revocation list is a normal state on a device (a placeholder file
	 * waiting for the first revocation); it must not stop every update. */
	if (is_blank (contents))
		return TRUE;
	return add_bytes (keyring->revoked, contents, file_name, error);
}

static gboolean
add_file (GPtrArray *set, const gchar *path, const gchar *what, GError **error)
{
	g_autoptr (GBytes) contents = mu_ed25519_read_key_file (path, error);

	if (contents == NULL)
		return FALSE;
	/* An empty revocation list is a normal state on a device (a placeholder file
	 * waiting for the first revocation); it must not stop every update. */
	if (g_str_equal (what, "revoked") && is_blank (contents))
		return TRUE;
	return add_bytes (set, contents, path, error);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
	return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* Every regular file of @dir_path (following symlinks), in name order. */
static gboolean
add_dir (GPtrArray *set, const gchar *dir_path, const gchar *what, GError **error)
{
	g_autoptr (GError) local_error = NULL;
	g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &local_error);
	g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
	const gchar *name;

	if (dir == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot list key directory '%s': %s",
			     dir_path, local_error->message);
		return FALSE;
	}
	while ((name = g_dir_read_name (dir)) != NULL)
		g_ptr_array_add (names, g_strdup (name));
	g_ptr_array_sort (names, compare_names);

	for (guint i = 0; i < names->len; i++) {
		g_autofree gchar *path = g_build_filename (dir_path, names->pdata[i], NULL);
		GStatBuf st;

		if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
			g_debug ("Skipping '%s' in key directory: not a regular file", path);
			continue;
		}
		if (!add_file (set, path, what, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
load_path (GPtrArray *set, const gchar *path, const gchar *what, GError **error)
{
	GStatBuf st;

	if (g_stat (path, &st) != 0) {
		mu_error_set_errno (error, errno, "cannot use %s key file or directory '%s'", what,
				    path);
		return FALSE;
	}
	if (S_ISDIR (st.st_mode))
		return add_dir (set, path, what, error);
	return add_file (set, path, what, error);
}

gboolean
mu_keyring_load_trusted (MuKeyring *keyring, const gchar *path, GError **error)
{
	g_return_val_if_fail (keyring != NULL && path != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	return load_path (keyring->trusted, path, "trusted", error);
}

gboolean
mu_keyring_load_revoked (MuKeyring *keyring, const gchar *path, GError **error)
{
	g_return_val_if_fail (keyring != NULL && path != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	return load_path (keyring->revoked, path, "revoked", error);
}

/* @base_dir/@name and @base_dir/@name.d, each if it exists. */
static gboolean
load_optional (GPtrArray *set, const gchar *base_dir, const gchar *name, const gchar *what,
	       GError **error)
{
	g_autofree gchar *file_path = g_build_filename (base_dir, name, NULL);
	g_autofree gchar *dir_path = g_strconcat (file_path, ".d", NULL);
	const gchar *paths[] = { file_path, dir_path };

	for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
		GStatBuf st;

		if (g_stat (paths[i], &st) != 0 && errno == ENOENT)
			continue;
		if (!load_path (set, paths[i], what, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
mu_keyring_load_ostree_dir (MuKeyring *keyring, const gchar *base_dir, GError **error)
{
	g_return_val_if_fail (keyring != NULL && base_dir != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!load_optional (keyring->trusted, base_dir, "trusted.ed25519", "trusted", error))
		return FALSE;
	return load_optional (keyring->revoked, base_dir, "revoked.ed25519", "revoked", error);
}
