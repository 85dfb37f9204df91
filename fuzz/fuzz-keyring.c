/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OSTree's ed25519 key files: a public key file (trusted.ed25519, revoked.ed25519 and the
 * files of their .d directories, one base64 key a line) through
 * mu_ed25519_parse_public_keys() and the keyring's trusted and revoked sets, and the same
 * bytes as a secret key file (mu_ed25519_secret_key_parse(), the bundle maker's
 * signing key).
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-ed25519.h"
#include "mu-keyring.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) keys = mu_ed25519_parse_public_keys (bytes, "fuzz.pub", &error);
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();
	g_autoptr (GPtrArray) effective = NULL;
	g_autoptr (MuEd25519SecretKey) secret = NULL;
	gboolean trusted;
	gboolean revoked;

	if (keys == NULL) {
		g_assert_nonnull (error);
	} else {
		g_assert_cmpuint (keys->len, >, 0);
		for (guint i = 0; i < keys->len; i++) {
			g_assert_nonnull (mu_ed25519_key_get_id (keys->pdata[i]));
			g_assert_nonnull (mu_ed25519_key_get_origin (keys->pdata[i]));
		}
	}
	g_clear_error (&error);

	trusted = mu_keyring_add_trusted_bytes (keyring, bytes, "trusted.ed25519", &error);
	g_clear_error (&error);
	revoked = mu_keyring_add_revoked_bytes (keyring, bytes, "revoked.ed25519", &error);
	g_clear_error (&error);
	/* What is trusted can be revoked (a blank revocation list is also accepted), and every
	 * key trusted is revoked as well. */
	if (trusted)
		g_assert_true (revoked);
	effective = mu_keyring_get_effective_keys (keyring);
	g_assert_cmpuint (effective->len, ==, 0);

	secret = mu_ed25519_secret_key_parse (bytes, "fuzz.secret", &error);
	if (secret == NULL)
		g_assert_nonnull (error);
	else
		g_assert_nonnull (mu_ed25519_secret_key_get_public (secret));
	return 0;
}
