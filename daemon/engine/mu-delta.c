/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <ostree.h>

#include "mu-delta.h"
#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-signed-delta.h"

/* ostree's static delta superblock and commit object layouts. */
#define SUPERBLOCK_FORMAT "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"
#define COMMIT_FORMAT "(a{sv}aya(say)sstayay)"

void
mu_delta_info_free (MuDeltaInfo *info)
{
	if (info == NULL)
		return;
	g_free (info->from_commit);
	g_free (info->to_commit);
	g_clear_pointer (&info->commit, g_variant_unref);
	g_free (info->version);
	g_strfreev (info->ref_bindings);
	g_free (info->collection_binding);
	g_clear_pointer (&info->commit_detached, g_variant_unref);
	g_free (info->part_compressed);
	g_free (info->part_uncompressed);
	g_strfreev (info->part_checksums);
	g_free (info);
}

static gboolean
corrupt (GError **error, const gchar *what)
{
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
		     "the delta superblock is malformed (%s); the bundle is damaged or not made "
		     "by the bundle maker",
		     what);
	return FALSE;
}

/* A checksum as ay of 32 bytes, or (when @empty_ok) an empty ay meaning "none". */
static gboolean
checksum_from_bytes (GVariant *v, gboolean empty_ok, gchar **out, GError **error)
{
	gsize len = g_variant_n_children (v);

	if (len == 0 && empty_ok) {
		*out = NULL;
		return TRUE;
	}
	if (len != OSTREE_SHA256_DIGEST_LEN)
		return corrupt (error, "checksum of wrong length");
	*out = ostree_checksum_from_bytes_v (v);
	return TRUE;
}

/* @key of @metadata as @type, or NULL when absent. Present with another type is not
 * "absent": a binding that reads as missing would let the commit through unbound. Nor is
 * a key given twice (a{sv} keeps both) something two readers would read alike. */
static gboolean
lookup_typed (GVariant *metadata, const gchar *key, const gchar *type, GVariant **out,
	      GError **error)
{
	g_autoptr (GVariant) value = NULL;
	GVariantIter iter;
	const gchar *name;
	GVariant *v;

	g_variant_iter_init (&iter, metadata);
	while (g_variant_iter_next (&iter, "{&sv}", &name, &v)) {
		g_autoptr (GVariant) owned = v;

		if (!g_str_equal (name, key))
			continue;
		if (value != NULL) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
				     "the delta's commit has '%s' more than once; the bundle was "
				     "not made by the bundle maker",
				     key);
			return FALSE;
		}
		value = g_steal_pointer (&owned);
	}
	if (value != NULL && !g_variant_is_of_type (value, G_VARIANT_TYPE (type))) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the delta's commit has '%s' of type '%s', not '%s'; the bundle "
			     "was not made by the bundle maker",
			     key, g_variant_get_type_string (value), type);
		return FALSE;
	}
	*out = g_steal_pointer (&value);
	return TRUE;
}

static gboolean
read_commit (MuDeltaInfo *info, GVariant *commit, GError **error)
{
	g_autoptr (GVariant) metadata = g_variant_get_child_value (commit, 0);
	g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
	g_autoptr (GVariant) version = NULL;
	g_autoptr (GVariant) collection = NULL;
	g_autoptr (GVariant) refs = NULL;

	g_checksum_update (sum, g_variant_get_data (commit), g_variant_get_size (commit));
	if (g_strcmp0 (g_checksum_get_string (sum), info->to_commit) != 0)
		return corrupt (error, "the commit does not match its checksum");

	if (!lookup_typed (metadata, "version", "s", &version, error) ||
	    !lookup_typed (metadata, OSTREE_COMMIT_META_KEY_COLLECTION_BINDING, "s", &collection,
			   error) ||
	    !lookup_typed (metadata, OSTREE_COMMIT_META_KEY_REF_BINDING, "as", &refs, error))
		return FALSE;
	info->commit = g_variant_ref (commit);
	info->timestamp = ostree_commit_get_timestamp (commit);
	if (version != NULL)
		info->version = g_variant_dup_string (version, NULL);
	if (collection != NULL)
		info->collection_binding = g_variant_dup_string (collection, NULL);
	if (refs != NULL)
		info->ref_bindings = g_variant_dup_strv (refs, NULL);
	return TRUE;
}

static gboolean
read_parts (MuDeltaInfo *info, GVariant *headers, gboolean swap, GError **error)
{
	info->n_parts = g_variant_n_children (headers);
	info->part_compressed = g_new0 (guint64, MAX (info->n_parts, 1));
	info->part_uncompressed = g_new0 (guint64, MAX (info->n_parts, 1));
	info->part_checksums = g_new0 (gchar *, info->n_parts + 1);

	for (guint i = 0; i < info->n_parts; i++) {
		g_autoptr (GVariant) csum = NULL;
		g_autoptr (GVariant) objects = NULL;
		guint32 version;
		guint64 csize, usize;

		g_variant_get_child (headers, i, "(u@aytt@ay)", &version, &csum, &csize, &usize,
				     &objects);
		if (g_variant_n_children (csum) != OSTREE_SHA256_DIGEST_LEN)
			return corrupt (error, "part checksum of wrong length");
		if (swap) {
			csize = GUINT64_SWAP_LE_BE (csize);
			usize = GUINT64_SWAP_LE_BE (usize);
		}
		if (csize > G_MAXUINT64 - info->total_compressed ||
		    usize > G_MAXUINT64 - info->total_uncompressed)
			return corrupt (error, "part sizes overflow");
		info->part_checksums[i] = ostree_checksum_from_bytes_v (csum);
		info->part_compressed[i] = csize;
		info->part_uncompressed[i] = usize;
		info->total_compressed += csize;
		info->total_uncompressed += usize;
	}
	return TRUE;
}

/* The to-commit's detached metadata, which ostree puts into the superblock's metadata
 * under "deltas/<from-to>/commitmeta" when the commit has any (e.g. signatures). */
static gboolean
read_commit_detached (MuDeltaInfo *info, GVariant *metadata, GError **error)
{
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	g_variant_iter_init (&iter, metadata);
	while (g_variant_iter_next (&iter, "{&sv}", &key, &value)) {
		g_autoptr (GVariant) owned = value;

		if (!g_str_has_prefix (key, "deltas/") || !g_str_has_suffix (key, "/commitmeta"))
			continue;
		if (info->commit_detached != NULL ||
		    !g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
			return corrupt (error, "unexpected commit metadata");
		info->commit_detached = g_steal_pointer (&owned);
	}
	return TRUE;
}

/* Sizes in the part headers are in the byte order of the machine that made the delta,
 * recorded as "ostree.endianness" ('l' or 'B'); no key means this machine's order. */
static gboolean
needs_swap (GVariant *metadata, gboolean *swap, GError **error)
{
	guint8 order = 0;

	*swap = FALSE;
	if (!g_variant_lookup (metadata, "ostree.endianness", "y", &order))
		return TRUE;
	if (order != 'l' && order != 'B')
		return corrupt (error, "unknown byte order");
	*swap = (order == 'B') != (G_BYTE_ORDER == G_BIG_ENDIAN);
	return TRUE;
}

MuDeltaInfo *
mu_delta_info_new (GBytes *superblock, GError **error)
{
	g_autoptr (GVariant) sb = NULL;
	g_autoptr (GVariant) metadata = NULL;
	g_autoptr (GVariant) from = NULL;
	g_autoptr (GVariant) to = NULL;
	g_autoptr (GVariant) commit = NULL;
	g_autoptr (GVariant) headers = NULL;
	g_autoptr (GVariant) fallbacks = NULL;
	g_autoptr (MuDeltaInfo) info = g_new0 (MuDeltaInfo, 1);
	gboolean swap = FALSE;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	sb = g_variant_ref_sink (
		g_variant_new_from_bytes (G_VARIANT_TYPE (SUPERBLOCK_FORMAT), superblock, FALSE));
	if (!g_variant_is_normal_form (sb)) {
		corrupt (error, "not in normal form");
		return NULL;
	}
	metadata = g_variant_get_child_value (sb, 0);
	from = g_variant_get_child_value (sb, 2);
	to = g_variant_get_child_value (sb, 3);
	commit = g_variant_get_child_value (sb, 4);
	headers = g_variant_get_child_value (sb, 6);
	fallbacks = g_variant_get_child_value (sb, 7);

	if (!checksum_from_bytes (from, TRUE, &info->from_commit, error) ||
	    !checksum_from_bytes (to, FALSE, &info->to_commit, error) ||
	    !read_commit (info, commit, error) || !read_commit_detached (info, metadata, error) ||
	    !needs_swap (metadata, &swap, error) || !read_parts (info, headers, swap, error))
		return NULL;
	if (g_variant_n_children (fallbacks) > 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "the delta needs %" G_GSIZE_FORMAT " objects fetched over the "
			     "network (fallbacks); make the bundle with --min-fallback-size=0",
			     g_variant_n_children (fallbacks));
		return NULL;
	}
	return g_steal_pointer (&info);
}

gboolean
mu_delta_info_verify_commit_signature (const MuDeltaInfo *info, MuKeyring *keyring, GError **error)
{
	g_autoptr (GBytes) commit = NULL;
	g_autoptr (MuSignedDelta) signed_commit = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;
	g_autoptr (GVariant) sigs = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (info->commit_detached == NULL)
		return TRUE;
	sigs = g_variant_lookup_value (info->commit_detached, MU_SIGN_ED25519_KEY, NULL);
	if (sigs == NULL)
		return TRUE;
	commit = g_variant_get_data_as_bytes (info->commit);
	signed_commit = mu_signed_delta_new_detached (commit, info->commit_detached, error);
	if (signed_commit == NULL ||
	    !mu_signed_delta_verify (signed_commit, keyring, &signer, error)) {
		g_prefix_error (error, "commit %s signature: ", info->to_commit);
		return FALSE;
	}
	g_info ("commit %s signature verified with key %s", info->to_commit,
		mu_ed25519_key_get_id (signer));
	return TRUE;
}
