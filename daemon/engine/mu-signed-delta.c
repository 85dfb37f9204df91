/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-signed-delta.h"

/* The first bytes of every envelope: the magic as big-endian bytes. */
#define MAGIC_TEXT "OSTSGNDT"
#define MAGIC_LEN 8

struct _MuSignedDelta {
	GBytes *data;
	GBytes *superblock;
	GPtrArray *signatures; /* GBytes, 64 bytes each */
};

void
mu_signed_delta_free (MuSignedDelta *delta)
{
	if (delta == NULL)
		return;
	g_bytes_unref (delta->data);
	g_bytes_unref (delta->superblock);
	g_ptr_array_unref (delta->signatures);
	g_free (delta);
}

static gboolean
has_magic (GBytes *data)
{
	gsize size;
	const gchar *p = g_bytes_get_data (data, &size);

	return size >= MAGIC_LEN && memcmp (p, MAGIC_TEXT, MAGIC_LEN) == 0;
}

static gboolean
is_plain_superblock (GBytes *data)
{
	g_autoptr (GVariant) v = NULL;

	if (g_bytes_get_size (data) == 0)
		return FALSE;
	v = g_variant_new_from_bytes (G_VARIANT_TYPE (MU_SUPERBLOCK_FORMAT), data, FALSE);
	return g_variant_is_normal_form (v);
}

gboolean
mu_superblock_check (GBytes *superblock, GError **error)
{
	g_return_val_if_fail (superblock != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (has_magic (superblock)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "the superblock is already signed (it starts with %s); give the "
			     "unsigned superblock that 'ostree static-delta generate' wrote",
			     MAGIC_TEXT);
		return FALSE;
	}
	if (!is_plain_superblock (superblock)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "not an OSTree static-delta superblock (%" G_GSIZE_FORMAT " bytes, "
			     "not a %s GVariant in normal form); give the 'superblock' file "
			     "of a delta made with 'ostree static-delta generate'",
			     g_bytes_get_size (superblock), MU_SUPERBLOCK_FORMAT);
		return FALSE;
	}
	return TRUE;
}

static gboolean
not_an_envelope (GBytes *data, GError **error)
{
	if (is_plain_superblock (data)) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSIGNED,
			     "the delta superblock is not signed (a plain superblock without "
			     "the %s envelope); sign it with 'mediaupd-bundle sign'",
			     MAGIC_TEXT);
		return FALSE;
	}
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
		     "not a static-delta superblock, signed or unsigned (%" G_GSIZE_FORMAT
		     " bytes without the %s magic); the file is damaged or is something else",
		     g_bytes_get_size (data), MAGIC_TEXT);
	return FALSE;
}

/* The 64-byte signatures under MU_SIGN_ED25519_KEY, or NULL with an error. */
static GPtrArray *
extract_signatures (GVariant *meta, GError **error)
{
	g_autoptr (GVariant) sigs = g_variant_lookup_value (meta, MU_SIGN_ED25519_KEY, NULL);
	g_autoptr (GPtrArray) result = NULL;
	gsize n;

	if (sigs == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSIGNED,
			     "the delta envelope carries no '%s' signatures; sign the delta "
			     "with an ed25519 key ('mediaupd-bundle sign')",
			     MU_SIGN_ED25519_KEY);
		return NULL;
	}
	if (!g_variant_is_of_type (sigs, G_VARIANT_TYPE ("aay"))) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the '%s' entry of the delta envelope has type '%s' instead of "
			     "'aay'; the envelope is damaged",
			     MU_SIGN_ED25519_KEY, g_variant_get_type_string (sigs));
		return NULL;
	}
	n = g_variant_n_children (sigs);
	if (n == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSIGNED,
			     "the delta envelope has an empty list of '%s' signatures; sign "
			     "the delta with an ed25519 key ('mediaupd-bundle sign')",
			     MU_SIGN_ED25519_KEY);
		return NULL;
	}
	if (n > MU_SIGNED_DELTA_MAX_SIGNATURES) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the delta envelope carries %" G_GSIZE_FORMAT " signatures, more than "
			     "the %d accepted; sign with fewer keys",
			     n, MU_SIGNED_DELTA_MAX_SIGNATURES);
		return NULL;
	}
	result = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
	for (gsize i = 0; i < n; i++) {
		g_autoptr (GVariant) sig = g_variant_get_child_value (sigs, i);

		if (g_variant_get_size (sig) != MU_ED25519_SIGNATURE_LEN) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
				     "signature %" G_GSIZE_FORMAT
				     " of the delta envelope is %" G_GSIZE_FORMAT
				     " bytes long, an ed25519 signature is %d; "
				     "the envelope is damaged",
				     i + 1, g_variant_get_size (sig), MU_ED25519_SIGNATURE_LEN);
			return NULL;
		}
		g_ptr_array_add (result, g_variant_get_data_as_bytes (sig));
	}
	return g_steal_pointer (&result);
}

MuSignedDelta *
mu_signed_delta_parse (GBytes *data, GError **error)
{
	g_autoptr (GVariant) envelope = NULL;
	g_autoptr (GVariant) superblock = NULL;
	g_autoptr (GVariant) meta = NULL;
	g_autoptr (GPtrArray) signatures = NULL;
	MuSignedDelta *delta;
	guint64 magic;

	g_return_val_if_fail (data != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!has_magic (data)) {
		not_an_envelope (data, error);
		return NULL;
	}
	if (g_bytes_get_size (data) > MU_SIGNED_DELTA_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the signed delta superblock is %" G_GSIZE_FORMAT " bytes, more than "
			     "the %" G_GSIZE_FORMAT " accepted; the bundle is damaged or not made "
			     "by the bundle maker",
			     g_bytes_get_size (data), MU_SIGNED_DELTA_MAX_SIZE);
		return NULL;
	}
	envelope = g_variant_new_from_bytes (G_VARIANT_TYPE (MU_SIGNED_DELTA_FORMAT), data, FALSE);
	if (!g_variant_is_normal_form (envelope)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the signed delta superblock is truncated or damaged (%" G_GSIZE_FORMAT
			     " bytes, not a %s GVariant in normal form)",
			     g_bytes_get_size (data), MU_SIGNED_DELTA_FORMAT);
		return NULL;
	}
	g_variant_get (envelope, "(t@ay@a{sv})", &magic, &superblock, &meta);
	if (GUINT64_FROM_BE (magic) != MU_SIGNED_DELTA_MAGIC) {
		/* Unreachable while has_magic() holds; kept as the format's own check. */
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the signed delta superblock has a wrong magic number");
		return NULL;
	}
	signatures = extract_signatures (meta, error);
	if (signatures == NULL)
		return NULL;

	delta = g_new0 (MuSignedDelta, 1);
	delta->data = g_bytes_ref (data);
	delta->superblock = g_variant_get_data_as_bytes (superblock);
	delta->signatures = g_steal_pointer (&signatures);
	return delta;
}

MuSignedDelta *
mu_signed_delta_new_detached (GBytes *message, GVariant *metadata, GError **error)
{
	g_autoptr (GPtrArray) signatures = NULL;
	MuSignedDelta *delta;

	g_return_val_if_fail (message != NULL && metadata != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!g_variant_is_of_type (metadata, G_VARIANT_TYPE_VARDICT)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "detached metadata of type '%s' instead of 'a{sv}'",
			     g_variant_get_type_string (metadata));
		return NULL;
	}
	signatures = extract_signatures (metadata, error);
	if (signatures == NULL)
		return NULL;
	delta = g_new0 (MuSignedDelta, 1);
	delta->data = g_bytes_ref (message);
	delta->superblock = g_bytes_ref (message);
	delta->signatures = g_steal_pointer (&signatures);
	return delta;
}

GBytes *
mu_signed_delta_get_superblock (MuSignedDelta *delta)
{
	g_return_val_if_fail (delta != NULL, NULL);
	return delta->superblock;
}

guint
mu_signed_delta_get_n_signatures (MuSignedDelta *delta)
{
	g_return_val_if_fail (delta != NULL, 0);
	return delta->signatures->len;
}

GBytes *
mu_signed_delta_get_signature (MuSignedDelta *delta, guint index)
{
	g_return_val_if_fail (delta != NULL, NULL);
	g_return_val_if_fail (index < delta->signatures->len, NULL);
	return g_ptr_array_index (delta->signatures, index);
}

gboolean
mu_signed_delta_verify (MuSignedDelta *delta, MuKeyring *keyring, MuEd25519Key **ret_key,
			GError **error)
{
	g_return_val_if_fail (delta != NULL, FALSE);
	g_return_val_if_fail (keyring != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	return mu_keyring_verify_signatures (keyring, delta->superblock, delta->signatures,
					     "the delta", ret_key, error);
}

gboolean
mu_signed_delta_verify_bytes (GBytes *data, MuKeyring *keyring, GBytes **ret_superblock,
			      MuEd25519Key **ret_key, GError **error)
{
	g_autoptr (MuSignedDelta) delta = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	delta = mu_signed_delta_parse (data, error);
	if (delta == NULL)
		return FALSE;
	if (!mu_signed_delta_verify (delta, keyring, ret_key, error))
		return FALSE;
	if (ret_superblock != NULL)
		*ret_superblock = g_bytes_ref (delta->superblock);
	return TRUE;
}

GBytes *
mu_signed_delta_sign (GBytes *superblock, MuEd25519SecretKey *const *secret_keys,
		      guint n_secret_keys, GError **error)
{
	g_autoptr (GVariant) envelope = NULL;
	GVariantBuilder sigs;
	GVariantBuilder meta;

	g_return_val_if_fail (superblock != NULL, NULL);
	g_return_val_if_fail (secret_keys != NULL || n_secret_keys == 0, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (n_secret_keys == 0 || n_secret_keys > MU_SIGNED_DELTA_MAX_SIGNATURES) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "%u signing keys given; give 1 to %d secret keys", n_secret_keys,
			     MU_SIGNED_DELTA_MAX_SIGNATURES);
		return NULL;
	}
	if (!mu_superblock_check (superblock, error) ||
	    !mu_ed25519_secret_keys_check_distinct (secret_keys, n_secret_keys, error))
		return NULL;

	g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
	for (guint i = 0; i < n_secret_keys; i++) {
		g_autoptr (GBytes) sig = mu_ed25519_secret_key_sign (secret_keys[i], superblock,
								     error);

		if (sig == NULL) {
			g_variant_builder_clear (&sigs);
			return NULL;
		}
		g_variant_builder_add_value (&sigs,
					     g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
								       sig, TRUE));
	}
	g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add (&meta, "{sv}", MU_SIGN_ED25519_KEY, g_variant_builder_end (&sigs));

	envelope = g_variant_ref_sink (
		g_variant_new ("(t@ay@a{sv})", GUINT64_TO_BE (MU_SIGNED_DELTA_MAGIC),
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, superblock,
							 TRUE),
			       g_variant_builder_end (&meta)));
	if (g_variant_get_size (envelope) > MU_SIGNED_DELTA_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "the signed superblock would be %" G_GSIZE_FORMAT " bytes, more than "
			     "the %" G_GSIZE_FORMAT " a device accepts; split the update",
			     g_variant_get_size (envelope), MU_SIGNED_DELTA_MAX_SIZE);
		return NULL;
	}
	return g_variant_get_data_as_bytes (envelope);
}
