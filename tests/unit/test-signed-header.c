/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-keyring.h"
#include "mu-signed-header.h"
#include "sign-test-util.h"

#define TO_COMMIT "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FROM_COMMIT "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static GBytes *
filled (gsize len, guint8 value)
{
	guint8 *buf = g_malloc (len);

	memset (buf, value, len);
	return g_bytes_new_take (buf, len);
}

/* A valid header with a distinct value in every field. */
static MuSignedHeader *
make_header (void)
{
	MuSignedHeader *h = g_new0 (MuSignedHeader, 1);
	const gchar *bindings[] = { "acme/os/x86_64/stable", "acme/os/x86_64/lts", NULL };

	h->format = MU_BUNDLE_FORMAT_V2;
	h->data_offset = 16 * 1024 * 1024;
	h->data_size = 129 * 4096;
	h->cipher = g_strdup ("aes-xts-plain64");
	h->key_size = 64;
	h->sector_size = 4096;
	h->digest_type = g_strdup ("pbkdf2");
	h->digest_hash = g_strdup ("sha256");
	h->digest_iterations = 123456;
	h->digest_salt = filled (32, 0x11);
	h->digest = filled (32, 0x22);
	h->hash_offset = h->data_offset + h->data_size;
	h->verity_hash = g_strdup ("sha256");
	h->data_block_size = 4096;
	h->hash_block_size = 4096;
	h->verity_salt = filled (32, 0x33);
	h->root_hash = filled (32, 0x44);
	h->os_id = g_strdup ("acmeos");
	h->os_variant_id = g_strdup ("kiosk");
	h->ref = g_strdup ("acme/os/x86_64/stable");
	h->collection_binding = g_strdup ("com.example.Os");
	h->ref_bindings = g_strdupv ((gchar **) bindings);
	h->to_commit = g_strdup (TO_COMMIT);
	h->from_commit = g_strdup (FROM_COMMIT);
	h->version = g_strdup ("2.1.0");
	h->timestamp = 1767225600;
	h->total_compressed = 7654321;
	h->total_uncompressed = 87654321;
	return h;
}

static GBytes *
serialize_ok (const MuSignedHeader *h)
{
	g_autoptr (GError) error = NULL;
	GBytes *bytes = mu_signed_header_serialize (h, &error);

	g_assert_no_error (error);
	g_assert_nonnull (bytes);
	return bytes;
}

static void
assert_bytes_equal (GBytes *a, GBytes *b)
{
	g_assert_nonnull (a);
	g_assert_nonnull (b);
	g_assert_true (g_bytes_equal (a, b));
}

static void
assert_headers_equal (const MuSignedHeader *a, const MuSignedHeader *b)
{
	g_assert_cmpuint (a->format, ==, b->format);
	g_assert_cmpuint (a->data_offset, ==, b->data_offset);
	g_assert_cmpuint (a->data_size, ==, b->data_size);
	g_assert_cmpstr (a->cipher, ==, b->cipher);
	g_assert_cmpuint (a->key_size, ==, b->key_size);
	g_assert_cmpuint (a->sector_size, ==, b->sector_size);
	g_assert_cmpstr (a->digest_type, ==, b->digest_type);
	g_assert_cmpstr (a->digest_hash, ==, b->digest_hash);
	g_assert_cmpuint (a->digest_iterations, ==, b->digest_iterations);
	assert_bytes_equal (a->digest_salt, b->digest_salt);
	assert_bytes_equal (a->digest, b->digest);
	g_assert_cmpuint (a->hash_offset, ==, b->hash_offset);
	g_assert_cmpstr (a->verity_hash, ==, b->verity_hash);
	g_assert_cmpuint (a->data_block_size, ==, b->data_block_size);
	g_assert_cmpuint (a->hash_block_size, ==, b->hash_block_size);
	assert_bytes_equal (a->verity_salt, b->verity_salt);
	assert_bytes_equal (a->root_hash, b->root_hash);
	g_assert_cmpstr (a->os_id, ==, b->os_id);
	g_assert_cmpstr (a->os_variant_id, ==, b->os_variant_id);
	g_assert_cmpstr (a->ref, ==, b->ref);
	g_assert_cmpstr (a->collection_binding, ==, b->collection_binding);
	g_assert_nonnull (b->ref_bindings);
	g_assert_cmpstrv (a->ref_bindings, b->ref_bindings);
	g_assert_cmpstr (a->to_commit, ==, b->to_commit);
	g_assert_cmpstr (a->from_commit, ==, b->from_commit);
	g_assert_cmpstr (a->version, ==, b->version);
	g_assert_cmpuint (a->timestamp, ==, b->timestamp);
	g_assert_cmpuint (a->total_compressed, ==, b->total_compressed);
	g_assert_cmpuint (a->total_uncompressed, ==, b->total_uncompressed);
}

static void
test_round_trip (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (GBytes) bytes = serialize_ok (h);
	g_autoptr (GBytes) again = NULL;
	g_autoptr (MuSignedHeader) parsed = NULL;
	g_autoptr (GError) error = NULL;

	g_assert_cmpuint (g_bytes_get_size (bytes), <=, MU_SIGNED_HEADER_MAX_SIZE);
	parsed = mu_signed_header_parse (bytes, &error);
	g_assert_no_error (error);
	assert_headers_equal (h, parsed);
	again = serialize_ok (parsed);
	assert_bytes_equal (bytes, again);
}

/* A token signed by the vendor verifies against a keyring trusting the vendor. */
static void
test_token_round_trip (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) key = mu_ed25519_secret_key_generate (&error);
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();
	g_autoptr (MuSignedToken) token = NULL;
	g_autoptr (MuSignedHeader) verified = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;
	g_autoptr (GBytes) bytes = serialize_ok (h);
	g_autofree gchar *json = NULL;

	g_assert_no_error (error);
	json = mu_signed_token_build_json (h, &key, 1, &error);
	g_assert_no_error (error);
	token = mu_signed_token_parse_json (json, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (mu_signed_token_get_n_signatures (token), ==, 1);
	assert_bytes_equal (mu_signed_token_get_header_bytes (token), bytes);

	mu_keyring_add_trusted_key (keyring, mu_ed25519_secret_key_get_public (key));
	verified = mu_signed_token_verify (token, keyring, &signer, &error);
	g_assert_no_error (error);
	assert_headers_equal (h, verified);
	g_assert_true (mu_ed25519_key_equal (signer, mu_ed25519_secret_key_get_public (key)));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	g_test_add_func ("/signed-header/round-trip", test_round_trip);
	g_test_add_func ("/signed-header/token/round-trip", test_token_round_trip);
	return g_test_run ();
}
