/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-bundle-v2.h"

#include <string.h>

#include "mu-bundle-format.h"
#include "mu-bundle-private.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-os-release.h"

/* "" in the signed header stands for what the delta has no value for (NULL). */
static const gchar *
or_null (const gchar *value)
{
	return value != NULL && value[0] != '\0' ? value : NULL;
}

static gboolean
cipher_accepted (const gchar *cipher, const gchar *const *extra_ciphers)
{
	return g_strcmp0 (cipher, MU_BUNDLE_CIPHER) == 0 ||
	       (extra_ciphers != NULL && g_strv_contains (extra_ciphers, cipher));
}

/* The one mediaupd-signed token, parsed but not yet verified. */
static MuSignedToken *
find_token (MuBundle *bundle, GError **error)
{
	const MuBundleInfo *info = mu_bundle_get_info (bundle);
	const gchar *name = mu_bundle_get_path (bundle);

	if (info->n_signed_tokens == 0 || info->signed_token_json == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSIGNED,
			     "'%s' is a v2 bundle without a signed header (no LUKS2 token of type "
			     "'" MU_BUNDLE_SIGNED_TOKEN_TYPE "'); get a bundle made with "
			     "mediaupd-bundle create",
			     name);
		return NULL;
	}
	if (info->n_signed_tokens > 1) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "'%s' holds %u signed headers (LUKS2 tokens of type "
			     "'" MU_BUNDLE_SIGNED_TOKEN_TYPE
			     "') where there must be one; the header "
			     "was tampered with, get the bundle again",
			     name, info->n_signed_tokens);
		return NULL;
	}
	return mu_signed_token_parse_json (info->signed_token_json, error);
}

MuSignedHeader *
mu_bundle_v2_verify (MuBundle *bundle, MuKeyring *keyring, MuEd25519Key **ret_key, GError **error)
{
	const MuBundleInfo *info;
	const gchar *name;
	g_autoptr (MuSignedToken) token = NULL;
	g_autoptr (MuSignedHeader) header = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;
	g_autofree gchar *shown = NULL;

	g_return_val_if_fail (bundle != NULL && keyring != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	info = mu_bundle_get_info (bundle);
	name = mu_bundle_get_path (bundle);
	if (info->format_version != MU_BUNDLE_FORMAT_V2) {
		g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			     "'%s' is a bundle of format v%u, not v2", name, info->format_version);
		return NULL;
	}
	/* What the header asks of libcryptsetup is checked before anything is parsed from
	 * its tokens: the same checks as before a v1 key trial. */
	if (!mu_bundle_check_own_encryption (bundle, error))
		return NULL;
	token = find_token (bundle, error);
	if (token == NULL) {
		g_prefix_error (error, "'%s': ", name);
		return NULL;
	}
	header = mu_signed_token_verify (token, keyring, &signer, error);
	if (header == NULL) {
		g_prefix_error (error, "'%s': the signed header: ", name);
		return NULL;
	}
	/* The live header must be the signed one where it matters: every keyslot must
	 * yield the signed volume key for the signed segment. */
	if (!mu_signed_header_check_luks (header, mu_bundle_get_header_json (bundle),
					  info->file_size, error)) {
		g_prefix_error (error, "'%s': ", name);
		return NULL;
	}
	if (!cipher_accepted (header->cipher, mu_bundle_get_extra_ciphers (bundle))) {
		shown = mu_escape_untrusted (header->cipher);
		g_set_error (
			error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
			"'%s' is encrypted with '%s', which this device does not accept (only " MU_BUNDLE_CIPHER
			" and [Unlock] Ciphers= in mediaupd.conf); get a "
			"bundle made with the default cipher, or allow '%s'",
			name, shown, shown);
		return NULL;
	}
	if (ret_key != NULL)
		*ret_key = g_steal_pointer (&signer);
	return g_steal_pointer (&header);
}

void
mu_bundle_v2_policy_update (const MuSignedHeader *header, MuPolicyUpdate *update)
{
	g_return_if_fail (header != NULL && update != NULL);

	memset (update, 0, sizeof (*update));
	update->to_commit = header->to_commit;
	update->from_commit = or_null (header->from_commit);
	update->timestamp = header->timestamp;
	update->version = or_null (header->version);
	update->ref_bindings = header->ref_bindings != NULL && header->ref_bindings[0] != NULL
				       ? (const gchar *const *) header->ref_bindings
				       : NULL;
	update->collection_binding = or_null (header->collection_binding);
	update->needed_bytes = header->total_uncompressed + header->total_compressed;
}

gboolean
mu_bundle_v2_check_tree_os (const MuSignedHeader *header, const MuPolicySystem *system,
			    GError **error)
{
	MuOsRelease tree = {
		.id = (gchar *) or_null (header->os_id),
		.variant_id = (gchar *) or_null (header->os_variant_id),
	};

	g_return_val_if_fail (header != NULL && system != NULL, FALSE);
	return mu_policy_check_tree_os (system, &tree, error);
}

static gboolean
differ (const gchar *what, const gchar *in_header, const gchar *in_delta, GError **error)
{
	g_autofree gchar *shown_header = mu_escape_untrusted (in_header != NULL ? in_header
										: "(none)");
	g_autofree gchar *shown_delta = mu_escape_untrusted (in_delta != NULL ? in_delta
									      : "(none)");

	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
		     "the signed header and the signed delta inside the bundle disagree on the "
		     "%s ('%s' in the header, '%s' in the delta); the bundle was not put together "
		     "by the bundle maker, get it again",
		     what, shown_header, shown_delta);
	return FALSE;
}

static gboolean
differ_number (const gchar *what, guint64 in_header, guint64 in_delta, GError **error)
{
	g_autofree gchar *a = g_strdup_printf ("%" G_GUINT64_FORMAT, in_header);
	g_autofree gchar *b = g_strdup_printf ("%" G_GUINT64_FORMAT, in_delta);

	return differ (what, a, b, error);
}

/* Lists equal in order; NULL and empty alike (the header writes "none" as empty). */
static gboolean
strv_same (const gchar *const *a, const gchar *const *b)
{
	guint na = a != NULL ? g_strv_length ((GStrv) a) : 0;
	guint nb = b != NULL ? g_strv_length ((GStrv) b) : 0;

	if (na != nb)
		return FALSE;
	for (guint i = 0; i < na; i++) {
		if (g_strcmp0 (a[i], b[i]) != 0)
			return FALSE;
	}
	return TRUE;
}

gboolean
mu_bundle_v2_check_delta (const MuSignedHeader *header, const MuDeltaInfo *info, GError **error)
{
	g_return_val_if_fail (header != NULL && info != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (g_strcmp0 (header->to_commit, info->to_commit) != 0)
		return differ ("to-commit", header->to_commit, info->to_commit, error);
	if (g_strcmp0 (or_null (header->from_commit), info->from_commit) != 0)
		return differ ("from-commit", or_null (header->from_commit), info->from_commit,
			       error);
	if (header->timestamp != info->timestamp)
		return differ_number ("commit timestamp", header->timestamp, info->timestamp,
				      error);
	if (g_strcmp0 (or_null (header->version), or_null (info->version)) != 0)
		return differ ("version", or_null (header->version), info->version, error);
	if (g_strcmp0 (or_null (header->collection_binding), or_null (info->collection_binding)) !=
	    0)
		return differ ("collection binding", or_null (header->collection_binding),
			       info->collection_binding, error);
	if (!strv_same ((const gchar *const *) header->ref_bindings,
			(const gchar *const *) info->ref_bindings)) {
		g_autofree gchar *a = header->ref_bindings != NULL
					      ? g_strjoinv (",", header->ref_bindings)
					      : g_strdup ("");
		g_autofree gchar *b = info->ref_bindings != NULL
					      ? g_strjoinv (",", info->ref_bindings)
					      : g_strdup ("");

		return differ ("ref bindings", a, b, error);
	}
	if (header->total_compressed != info->total_compressed)
		return differ_number ("size of the delta parts", header->total_compressed,
				      info->total_compressed, error);
	if (header->total_uncompressed != info->total_uncompressed)
		return differ_number ("uncompressed size of the delta parts",
				      header->total_uncompressed, info->total_uncompressed, error);
	return TRUE;
}
