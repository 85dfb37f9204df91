/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-ed25519.h"

G_BEGIN_DECLS

/*
 * A keyring: trusted keys and revoked keys. The effective set is trusted minus revoked;
 * a revoked key stays known so that a signature by it can be reported as such.
 */
typedef struct _MuKeyring MuKeyring;

MuKeyring *mu_keyring_new (void);
void mu_keyring_free (MuKeyring *keyring);

/* Parse a public key file's contents into the trusted or the revoked set. */
gboolean mu_keyring_add_trusted_bytes (MuKeyring *keyring, GBytes *contents, const gchar *file_name,
				       GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean mu_keyring_add_revoked_bytes (MuKeyring *keyring, GBytes *contents, const gchar *file_name,
				       GError **error) G_GNUC_WARN_UNUSED_RESULT;
/*
 * Load a key file, or every regular file of a directory (sorted by name; subdirectories
 * and other non-regular entries are skipped; an empty directory adds nothing). A missing
 * path is MU_ERROR_NOT_FOUND.
 */
gboolean mu_keyring_load_trusted (MuKeyring *keyring, const gchar *path,
				  GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean mu_keyring_load_revoked (MuKeyring *keyring, const gchar *path,
				  GError **error) G_GNUC_WARN_UNUSED_RESULT;
/*
 * OSTree's layout under @base_dir (e.g. /etc/ostree, /usr/share/ostree): trusted.ed25519,
 * trusted.ed25519.d/, revoked.ed25519, revoked.ed25519.d/. Missing entries are fine;
 * malformed ones are errors.
 */
gboolean mu_keyring_load_ostree_dir (MuKeyring *keyring, const gchar *base_dir,
				     GError **error) G_GNUC_WARN_UNUSED_RESULT;

void mu_keyring_add_trusted_key (MuKeyring *keyring, MuEd25519Key *key);
void mu_keyring_add_revoked_key (MuKeyring *keyring, MuEd25519Key *key);
gboolean mu_keyring_is_revoked (MuKeyring *keyring, MuEd25519Key *key);
/* Trusted and not revoked, without duplicates, in the order they were added. */
GPtrArray *mu_keyring_get_effective_keys (MuKeyring *keyring);
/* Revoked keys (whether or not they are also in the trusted set). */
GPtrArray *mu_keyring_get_revoked_keys (MuKeyring *keyring);
guint mu_keyring_get_n_trusted (MuKeyring *keyring);

/*
 * The rule for every signed object (delta, commit, bundle header): accept if any of
 * @signatures (GBytes, 64 bytes each) over @message verifies with a trusted key that is
 * not revoked; on success @ret_key (optional) gets that key (transfer full). @subject
 * names the object in messages ("the delta"). Errors: MU_ERROR_UNSIGNED if @signatures
 * is empty; MU_ERROR_KEY_REVOKED if a signature verifies only with a revoked key;
 * MU_ERROR_NO_TRUSTED_KEYS if no key is left after revocation;
 * MU_ERROR_SIGNATURE_INVALID otherwise.
 */
gboolean mu_keyring_verify_signatures (MuKeyring *keyring, GBytes *message, GPtrArray *signatures,
				       const gchar *subject, MuEd25519Key **ret_key,
				       GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuKeyring, mu_keyring_free)

G_END_DECLS
