/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libcryptsetup.h>

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-keyring.h"
#include "mu-luks.h"
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

/* The header's bytes as a writer that validates nothing would make them. */
static GBytes *
raw_bytes (const MuSignedHeader *h, const gchar *magic)
{
	const gchar *const empty[] = { NULL };
	g_autoptr (GVariant) v = NULL;

	v = g_variant_ref_sink (
		g_variant_new ("(su(ttsuu)(ssu@ay@ay)(tsuu@ay@ay)(ssss^assssttt))", magic,
			       h->format, h->data_offset, h->data_size, h->cipher, h->key_size,
			       h->sector_size, h->digest_type, h->digest_hash, h->digest_iterations,
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, h->digest_salt,
							 TRUE),
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, h->digest,
							 TRUE),
			       h->hash_offset, h->verity_hash, h->data_block_size,
			       h->hash_block_size,
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, h->verity_salt,
							 TRUE),
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, h->root_hash,
							 TRUE),
			       h->os_id, h->os_variant_id, h->ref, h->collection_binding,
			       h->ref_bindings != NULL ? (const gchar *const *) h->ref_bindings
						       : empty,
			       h->to_commit, h->from_commit, h->version, h->timestamp,
			       h->total_compressed, h->total_uncompressed));
	g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE (MU_SIGNED_HEADER_FORMAT)));
	return g_variant_get_data_as_bytes (v);
}

static void
assert_parse_fails (GBytes *bytes, gint code, const gchar *message)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedHeader) h = mu_signed_header_parse (bytes, &error);

	g_assert_null (h);
	g_assert_error (error, MU_ERROR, code);
	if (message != NULL && strstr (error->message, message) == NULL)
		g_error ("'%s' does not say '%s'", error->message, message);
}

static void
set_str (gchar **field, const gchar *value)
{
	g_free (*field);
	*field = g_strdup (value);
}

static void
set_bytes (GBytes **field, GBytes *value)
{
	g_bytes_unref (*field);
	*field = value;
}

static void
set_cipher_adiantum (MuSignedHeader *h)
{
	set_str (&h->cipher, "xchacha12,aes-adiantum-plain64");
	h->key_size = 32;
}

static void
set_digest_sha512 (MuSignedHeader *h)
{
	set_str (&h->digest_hash, "sha512");
	set_bytes (&h->digest, filled (64, 0x55));
}

/* The data segment at @offset, @size bytes, and the hash tree right after it. */
static void
set_segment (MuSignedHeader *h, guint64 offset, guint64 size)
{
	h->data_offset = offset;
	h->data_size = size;
	h->hash_offset = offset + size;
}

static void
set_bindings (MuSignedHeader *h, guint n, const gchar *last)
{
	g_strfreev (h->ref_bindings);
	h->ref_bindings = g_new0 (gchar *, n + 1);
	for (guint i = 0; i < n; i++)
		h->ref_bindings[i] = i + 1 == n && last != NULL
					     ? g_strdup (last)
					     : g_strdup_printf ("acme/os/x86_64/branch%u", i);
}

static gchar *
repeat (gchar c, gsize n)
{
	gchar *text = g_malloc (n + 1);

	memset (text, c, n);
	text[n] = '\0';
	return text;
}

/* Valid headers other than make_header()'s: each must round-trip. */
typedef void (*Mutation) (MuSignedHeader *h);

static void
valid_empty_fields (MuSignedHeader *h)
{
	set_str (&h->os_id, "");
	set_str (&h->os_variant_id, "");
	set_str (&h->collection_binding, "");
	set_str (&h->from_commit, "");
	set_str (&h->version, "");
	set_bindings (h, 0, NULL);
	h->timestamp = 0;
	h->total_compressed = 0;
	h->total_uncompressed = 0;
}

static void
valid_largest (MuSignedHeader *h)
{
	g_autofree gchar *long_text = repeat ('x', 255);
	g_autofree gchar *long_ref = repeat ('r', 255);

	set_str (&h->os_id, long_text);
	set_str (&h->os_variant_id, long_text);
	set_str (&h->ref, long_ref);
	set_str (&h->version, long_text);
	set_bindings (h, MU_SIGNED_HEADER_MAX_REF_BINDINGS, long_ref);
	set_segment (h, G_GUINT64_CONSTANT (1) << 40, G_GUINT64_CONSTANT (1) << 50);
	h->digest_iterations = G_MAXUINT32;
	h->timestamp = G_MAXUINT64;
	h->total_compressed = G_MAXUINT64;
	h->total_uncompressed = G_MAXUINT64;
}

static void
valid_smallest_segment (MuSignedHeader *h)
{
	set_segment (h, 2 * MU_BUNDLE_V2_METADATA_SIZE, 4096);
	h->digest_iterations = 1000;
}

static void
valid_utf8 (MuSignedHeader *h)
{
	set_str (&h->version, "2.1 \xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
	set_str (&h->os_variant_id, "caf\xc3\xa9");
}

static const struct {
	const gchar *name;
	Mutation mutate;
} valid_headers[] = {
	{ "adiantum", set_cipher_adiantum },
	{ "sha512-digest", set_digest_sha512 },
	{ "empty-fields", valid_empty_fields },
	{ "largest", valid_largest },
	{ "smallest-segment", valid_smallest_segment },
	{ "utf8", valid_utf8 },
};

static void
test_round_trip_variants (void)
{
	for (guint i = 0; i < G_N_ELEMENTS (valid_headers); i++) {
		g_autoptr (MuSignedHeader) h = make_header ();
		g_autoptr (GBytes) bytes = NULL;
		g_autoptr (GBytes) raw = NULL;
		g_autoptr (MuSignedHeader) parsed = NULL;
		g_autoptr (GError) error = NULL;

		g_test_message ("valid header: %s", valid_headers[i].name);
		valid_headers[i].mutate (h);
		bytes = serialize_ok (h);
		g_assert_cmpuint (g_bytes_get_size (bytes), <=, MU_SIGNED_HEADER_MAX_SIZE);
		raw = raw_bytes (h, MU_SIGNED_HEADER_MAGIC);
		assert_bytes_equal (bytes, raw);
		parsed = mu_signed_header_parse (bytes, &error);
		g_assert_no_error (error);
		assert_headers_equal (h, parsed);
	}
}

/* Invalid values, field by field: refused by serialize and by parse, with the code and
 * a message naming the field. */
#define CORRUPT MU_ERROR_CORRUPT_BUNDLE
#define UNSUPPORTED MU_ERROR_UNSUPPORTED_FORMAT
#define BAD(name, code, message, statements)                                                       \
	static void bad_##name (MuSignedHeader *h)                                                 \
	{                                                                                          \
		statements;                                                                        \
	}
#define BAD_FIELDS(X)                                                                              \
	X (version_0, UNSUPPORTED, "format version is 0", h->format = 0)                           \
	X (version_1, UNSUPPORTED, "format version is 1", h->format = 1)                           \
	X (version_3, UNSUPPORTED, "format version is 3", h->format = 3)                           \
	X (version_max, UNSUPPORTED, "format version is 4294967295", h->format = G_MAXUINT32)      \
	X (offset_0, CORRUPT, "data segment offset 0", set_segment (h, 0, 129 * 4096))             \
	X (offset_unaligned, CORRUPT, "data segment offset 16777728",                              \
	   set_segment (h, 16 * 1024 * 1024 + 512, 129 * 4096))                                    \
	X (offset_in_metadata, CORRUPT, "inside the LUKS2 metadata",                               \
	   set_segment (h, 2 * MU_BUNDLE_V2_METADATA_SIZE - 4096, 129 * 4096))                     \
	X (size_0, CORRUPT, "data segment size 0", set_segment (h, 16 * 1024 * 1024, 0))           \
	X (size_unaligned, CORRUPT, "data segment size 528385",                                    \
	   set_segment (h, 16 * 1024 * 1024, 129 * 4096 + 1))                                      \
	X (segment_wraps, CORRUPT, "ends beyond the largest file size",                            \
	   set_segment (h, G_MAXUINT64 - 4095, 129 * 4096))                                        \
	X (segment_beyond_off_t, CORRUPT, "ends beyond the largest file size",                     \
	   set_segment (h, G_GUINT64_CONSTANT (1) << 62, G_GUINT64_CONSTANT (1) << 62))            \
	X (tree_beyond_off_t, CORRUPT, "verity hash tree",                                         \
	   set_segment (h, (G_GUINT64_CONSTANT (1) << 63) - 4096 - 129 * 4096, 129 * 4096))        \
	X (hash_offset_before, CORRUPT, "not right after the data segment",                        \
	   h->hash_offset -= 4096)                                                                 \
	X (hash_offset_after, CORRUPT, "not right after the data segment", h->hash_offset += 4096) \
	X (hash_offset_0, CORRUPT, "not right after the data segment", h->hash_offset = 0)         \
	X (cipher_cbc, UNSUPPORTED, "cipher 'aes-cbc-essiv:sha256'",                               \
	   set_str (&h->cipher, "aes-cbc-essiv:sha256"))                                           \
	X (cipher_null, UNSUPPORTED, "cipher 'cipher_null-ecb'",                                   \
	   set_str (&h->cipher, "cipher_null-ecb"))                                                \
	X (cipher_case, UNSUPPORTED, "cipher 'AES-XTS-PLAIN64'",                                   \
	   set_str (&h->cipher, "AES-XTS-PLAIN64"))                                                \
	X (cipher_empty, CORRUPT, "cipher is empty", set_str (&h->cipher, ""))                     \
	X (key_size_xts_32, UNSUPPORTED, "volume key size 32", h->key_size = 32)                   \
	X (key_size_0, UNSUPPORTED, "volume key size 0", h->key_size = 0)                          \
	X (key_size_adiantum_64, UNSUPPORTED, "volume key size 64", set_cipher_adiantum (h);       \
	   h->key_size = 64)                                                                       \
	X (sector_512, UNSUPPORTED, "sector size 512", h->sector_size = 512)                       \
	X (sector_8192, UNSUPPORTED, "sector size 8192", h->sector_size = 8192)                    \
	X (digest_argon2, UNSUPPORTED, "digest type 'argon2id'",                                   \
	   set_str (&h->digest_type, "argon2id"))                                                  \
	X (digest_type_empty, CORRUPT, "digest type is empty", set_str (&h->digest_type, ""))      \
	X (digest_sha1, UNSUPPORTED, "digest hash 'sha1'", set_str (&h->digest_hash, "sha1"))      \
	X (digest_hash_case, UNSUPPORTED, "digest hash 'SHA256'",                                  \
	   set_str (&h->digest_hash, "SHA256"))                                                    \
	X (iterations_0, CORRUPT, "iterations 0", h->digest_iterations = 0)                        \
	X (iterations_999, CORRUPT, "iterations 999", h->digest_iterations = 999)                  \
	X (digest_salt_31, CORRUPT, "digest salt is 31 bytes",                                     \
	   set_bytes (&h->digest_salt, filled (31, 1)))                                            \
	X (digest_salt_0, CORRUPT, "digest salt is 0 bytes",                                       \
	   set_bytes (&h->digest_salt, filled (0, 1)))                                             \
	X (digest_salt_64, CORRUPT, "digest salt is 64 bytes",                                     \
	   set_bytes (&h->digest_salt, filled (64, 1)))                                            \
	X (digest_31, CORRUPT, "volume key digest is 31 bytes",                                    \
	   set_bytes (&h->digest, filled (31, 1)))                                                 \
	X (digest_64_sha256, CORRUPT, "volume key digest is 64 bytes",                             \
	   set_bytes (&h->digest, filled (64, 1)))                                                 \
	X (digest_32_sha512, CORRUPT, "volume key digest is 32 bytes",                             \
	   set_str (&h->digest_hash, "sha512"))                                                    \
	X (verity_sha1, UNSUPPORTED, "verity hash 'sha1'", set_str (&h->verity_hash, "sha1"))      \
	X (verity_hash_empty, CORRUPT, "verity hash is empty", set_str (&h->verity_hash, ""))      \
	X (data_block_512, UNSUPPORTED, "verity block sizes (data 512, hash 4096)",                \
	   h->data_block_size = 512)                                                               \
	X (hash_block_1024, UNSUPPORTED, "verity block sizes (data 4096, hash 1024)",              \
	   h->hash_block_size = 1024)                                                              \
	X (verity_salt_0, CORRUPT, "verity salt is 0 bytes",                                       \
	   set_bytes (&h->verity_salt, filled (0, 1)))                                             \
	X (verity_salt_64, CORRUPT, "verity salt is 64 bytes",                                     \
	   set_bytes (&h->verity_salt, filled (64, 1)))                                            \
	X (root_31, CORRUPT, "root hash is 31 bytes", set_bytes (&h->root_hash, filled (31, 1)))   \
	X (root_33, CORRUPT, "root hash is 33 bytes", set_bytes (&h->root_hash, filled (33, 1)))   \
	X (os_id_long, CORRUPT, "os-release ID is 256 bytes long", g_free (h->os_id);              \
	   h->os_id = repeat ('a', 256))                                                           \
	X (os_id_newline, CORRUPT, "os-release ID contains the control character 0x0a",            \
	   set_str (&h->os_id, "acme\nos"))                                                        \
	X (variant_long, CORRUPT, "VARIANT_ID is 256 bytes long", g_free (h->os_variant_id);       \
	   h->os_variant_id = repeat ('v', 256))                                                   \
	X (variant_escape, CORRUPT, "VARIANT_ID contains the control character 0x1b",              \
	   set_str (&h->os_variant_id, "\033[2J"))                                                 \
	X (ref_empty, CORRUPT, "ref is empty", set_str (&h->ref, ""))                              \
	X (ref_invalid, CORRUPT, "ref is not a valid OSTree ref", set_str (&h->ref, "acme/../os")) \
	X (ref_remote, CORRUPT, "ref is not a valid OSTree ref", set_str (&h->ref, "origin:acme")) \
	X (ref_long, CORRUPT, "ref is 256 bytes long", g_free (h->ref);                            \
	   h->ref = repeat ('r', 256))                                                             \
	X (collection_invalid, CORRUPT, "collection binding is not a valid",                       \
	   set_str (&h->collection_binding, "not a collection"))                                   \
	X (collection_one_part, CORRUPT, "collection binding is not a valid",                      \
	   set_str (&h->collection_binding, "com"))                                                \
	X (bindings_17, CORRUPT, "ref binding list has 17 entries",                                \
	   set_bindings (h, MU_SIGNED_HEADER_MAX_REF_BINDINGS + 1, NULL))                          \
	X (binding_invalid, CORRUPT, "ref binding 3 is not a valid OSTree ref",                    \
	   set_bindings (h, 3, "bad ref"))                                                         \
	X (binding_empty, CORRUPT, "ref binding 1 is empty", set_bindings (h, 1, ""))              \
	X (to_empty, CORRUPT, "to-commit is empty", set_str (&h->to_commit, ""))                   \
	X (to_upper, CORRUPT, "to-commit is not an OSTree checksum",                               \
	   set_str (&h->to_commit,                                                                 \
		    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"))           \
	X (to_short, CORRUPT, "to-commit is not an OSTree checksum",                               \
	   set_str (&h->to_commit,                                                                 \
		    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"))            \
	X (to_long, CORRUPT, "to-commit is not an OSTree checksum",                                \
	   set_str (&h->to_commit, TO_COMMIT "0"))                                                 \
	X (from_upper, CORRUPT, "from-commit is not an OSTree checksum",                           \
	   set_str (&h->from_commit,                                                               \
		    "FEDCBA9876543210fedcba9876543210fedcba9876543210fedcba9876543210"))           \
	X (from_text, CORRUPT, "from-commit is not an OSTree checksum",                            \
	   set_str (&h->from_commit, "none"))                                                      \
	X (from_is_to, CORRUPT, "from-commit is the to-commit",                                    \
	   set_str (&h->from_commit, TO_COMMIT))                                                   \
	X (version_long, CORRUPT, "version is 256 bytes long", g_free (h->version);                \
	   h->version = repeat ('1', 256))                                                         \
	X (version_del, CORRUPT, "version contains the control character 0x7f",                    \
	   set_str (&h->version, "1.0\177"))                                                       \
	X (version_c1, CORRUPT, "version contains control or bidirectional-text characters",       \
	   set_str (&h->version, "1.0\xc2\x9b"))                                                   \
	X (os_id_bidi, CORRUPT, "os-release ID contains control or bidirectional-text characters", \
	   set_str (&h->os_id, "acme\xe2\x80\xaeso"))

BAD_FIELDS (BAD)

#define BAD_ENTRY(name, code, message, statements) { #name, bad_##name, code, message },
static const struct {
	const gchar *name;
	Mutation mutate;
	gint code;
	const gchar *message;
} bad_fields[] = { BAD_FIELDS (BAD_ENTRY) };

static void
test_bad_fields (void)
{
	for (guint i = 0; i < G_N_ELEMENTS (bad_fields); i++) {
		g_autoptr (MuSignedHeader) h = make_header ();
		g_autoptr (GBytes) bytes = NULL;
		g_autoptr (GBytes) raw = NULL;
		g_autoptr (GError) error = NULL;

		g_test_message ("invalid field: %s", bad_fields[i].name);
		bad_fields[i].mutate (h);
		bytes = mu_signed_header_serialize (h, &error);
		g_assert_null (bytes);
		g_assert_error (error, MU_ERROR, bad_fields[i].code);
		if (strstr (error->message, bad_fields[i].message) == NULL)
			g_error ("%s: '%s' does not say '%s'", bad_fields[i].name, error->message,
				 bad_fields[i].message);
		g_assert_nonnull (strstr (error->message, "the signed header's "));

		raw = raw_bytes (h, MU_SIGNED_HEADER_MAGIC);
		assert_parse_fails (raw, bad_fields[i].code, bad_fields[i].message);
	}
}

/* Fields the struct may lack (NULL): serialize refuses them by name, without a critical. */
static void
test_missing_fields (void)
{
	static const struct {
		gsize offset;
		gboolean is_bytes;
		const gchar *message;
	} fields[] = {
		{ G_STRUCT_OFFSET (MuSignedHeader, cipher), FALSE, "cipher is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, digest_type), FALSE, "digest type is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, digest_salt), TRUE, "digest salt is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, digest), TRUE, "volume key digest is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, verity_hash), FALSE, "verity hash is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, root_hash), TRUE, "root hash is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, os_id), FALSE, "os-release ID is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, ref), FALSE, "ref is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, to_commit), FALSE, "to-commit is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, from_commit), FALSE, "from-commit is missing" },
		{ G_STRUCT_OFFSET (MuSignedHeader, version), FALSE, "version is missing" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (fields); i++) {
		g_autoptr (MuSignedHeader) h = make_header ();
		g_autoptr (GBytes) bytes = NULL;
		g_autoptr (GError) error = NULL;
		gpointer *field = G_STRUCT_MEMBER_P (h, fields[i].offset);

		if (fields[i].is_bytes)
			g_clear_pointer ((GBytes **) field, g_bytes_unref);
		else
			g_clear_pointer ((gchar **) field, g_free);
		bytes = mu_signed_header_serialize (h, &error);
		g_assert_null (bytes);
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
		g_assert_nonnull (strstr (error->message, fields[i].message));
	}
}

/* NULL ref bindings serialize as an empty list and parse back as an empty (not NULL) one. */
static void
test_null_bindings (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (MuSignedHeader) parsed = NULL;
	g_autoptr (GBytes) bytes = NULL;
	g_autoptr (GError) error = NULL;

	g_clear_pointer (&h->ref_bindings, g_strfreev);
	bytes = serialize_ok (h);
	parsed = mu_signed_header_parse (bytes, &error);
	g_assert_no_error (error);
	g_assert_nonnull (parsed->ref_bindings);
	g_assert_cmpuint (g_strv_length (parsed->ref_bindings), ==, 0);
}

static void
test_bad_magic (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	const gchar *magics[] = { "", "mediaupd-signed-headeR", "OSTSGNDT", "mediaupd-signed" };

	for (guint i = 0; i < G_N_ELEMENTS (magics); i++) {
		g_autoptr (GBytes) raw = raw_bytes (h, magics[i]);

		assert_parse_fails (raw, MU_ERROR_CORRUPT_BUNDLE, "magic is not");
	}
}

/* Every prefix is refused, and so are the bytes with anything appended. */
static void
test_truncated_and_extended (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (GBytes) bytes = serialize_ok (h);
	gsize size = 0;
	const guint8 *data = g_bytes_get_data (bytes, &size);

	for (gsize len = 0; len < size; len++) {
		g_autoptr (GBytes) cut = g_bytes_new (data, len);

		assert_parse_fails (cut, MU_ERROR_CORRUPT_BUNDLE, NULL);
	}
	for (gsize extra = 1; extra <= 16; extra++) {
		g_autofree guint8 *longer = g_malloc0 (size + extra);
		g_autoptr (GBytes) more = NULL;

		memcpy (longer, data, size);
		more = g_bytes_new (longer, size + extra);
		assert_parse_fails (more, MU_ERROR_CORRUPT_BUNDLE, "normal form");
	}
}

/* Bytes of the right type that are not in normal form: the padding after the magic. */
static void
test_not_normal_form (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (GBytes) bytes = serialize_ok (h);
	g_autoptr (GBytes) odd = NULL;
	g_autoptr (GVariant) v = NULL;
	gsize size = 0;
	g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (bytes, NULL),
					     g_bytes_get_size (bytes));
	gsize pad = strlen (MU_SIGNED_HEADER_MAGIC) + 1;

	size = g_bytes_get_size (bytes);
	/* "mediaupd-signed-header" and its NUL end at 23; the u is aligned to 24. */
	g_assert_cmpuint (pad % 4, !=, 0);
	g_assert_cmpuint (data[pad], ==, 0);
	data[pad] = 0x01;
	odd = g_bytes_new (data, size);
	v = g_variant_ref_sink (
		g_variant_new_from_bytes (G_VARIANT_TYPE (MU_SIGNED_HEADER_FORMAT), odd, FALSE));
	g_assert_false (g_variant_is_normal_form (v));
	assert_parse_fails (odd, MU_ERROR_CORRUPT_BUNDLE, "normal form");
}

static void
test_oversize (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (GBytes) big = NULL;
	g_autoptr (GBytes) bytes = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree guint8 *zeros = g_malloc0 (MU_SIGNED_HEADER_MAX_SIZE + 1);

	/* A well-formed GVariant of the type, too large: a long version string. */
	g_free (h->version);
	h->version = repeat ('9', MU_SIGNED_HEADER_MAX_SIZE);
	big = raw_bytes (h, MU_SIGNED_HEADER_MAGIC);
	g_assert_cmpuint (g_bytes_get_size (big), >, MU_SIGNED_HEADER_MAX_SIZE);
	assert_parse_fails (big, MU_ERROR_CORRUPT_BUNDLE, "size");

	bytes = g_bytes_new (zeros, MU_SIGNED_HEADER_MAX_SIZE + 1);
	assert_parse_fails (bytes, MU_ERROR_CORRUPT_BUNDLE, "size 8193 is not 1 to 8192 bytes");

	/* The serializer refuses it too (the version is too long before it is too big). */
	g_clear_pointer (&bytes, g_bytes_unref);
	bytes = mu_signed_header_serialize (h, &error);
	g_assert_null (bytes);
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
}

/* An unknown version is named, even when the rest of the header is not format 2's. */
static void
test_unknown_version (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();
	g_autoptr (GBytes) raw = NULL;

	h->format = 3;
	set_str (&h->cipher, "something-new");
	h->sector_size = 0;
	raw = raw_bytes (h, MU_SIGNED_HEADER_MAGIC);
	assert_parse_fails (raw, MU_ERROR_UNSUPPORTED_FORMAT,
			    "format version is 3; this device reads format 2");
}

/* Tokens and signatures. */

typedef struct {
	MuEd25519SecretKey *vendor;
	MuEd25519SecretKey *other;
	MuSignedHeader *header;
	GBytes *bytes;     /* the header's bytes */
	gchar *header_b64; /* their base64 */
	gchar *vendor_sig; /* base64 of the vendor's signature of them */
	gchar *other_sig;  /* base64 of the other key's */
} TokenFixture;

static gchar *
b64 (GBytes *bytes)
{
	gsize len;
	const guint8 *data = g_bytes_get_data (bytes, &len);

	return g_base64_encode (data, len);
}

static gchar *
sign_b64 (MuEd25519SecretKey *key, GBytes *bytes)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) sig = mu_ed25519_secret_key_sign (key, bytes, &error);

	g_assert_no_error (error);
	return b64 (sig);
}

static void
token_setup (TokenFixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	fx->vendor = mu_ed25519_secret_key_generate (&error);
	g_assert_no_error (error);
	fx->other = mu_ed25519_secret_key_generate (&error);
	g_assert_no_error (error);
	fx->header = make_header ();
	fx->bytes = serialize_ok (fx->header);
	fx->header_b64 = b64 (fx->bytes);
	fx->vendor_sig = sign_b64 (fx->vendor, fx->bytes);
	fx->other_sig = sign_b64 (fx->other, fx->bytes);
}

static void
token_teardown (TokenFixture *fx, gconstpointer data)
{
	mu_ed25519_secret_key_free (fx->vendor);
	mu_ed25519_secret_key_free (fx->other);
	mu_signed_header_free (fx->header);
	g_bytes_unref (fx->bytes);
	g_free (fx->header_b64);
	g_free (fx->vendor_sig);
	g_free (fx->other_sig);
}

/* {"type":..., "keyslots":[], "header":HEADER, "signatures":[SIGS]} */
static gchar *
token_json (const gchar *header_b64, const gchar *sigs)
{
	return g_strdup_printf ("{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"header\":\"%s\","
				"\"signatures\":[%s]}",
				header_b64, sigs);
}

static gchar *
quoted (const gchar *a, const gchar *b)
{
	return b != NULL ? g_strdup_printf ("\"%s\",\"%s\"", a, b) : g_strdup_printf ("\"%s\"", a);
}

/* @text, freed with @array. */
static const gchar *
keep (GPtrArray *array, gchar *text)
{
	g_ptr_array_add (array, text);
	return text;
}

static MuSignedToken *
parse_token_ok (const gchar *json)
{
	g_autoptr (GError) error = NULL;
	MuSignedToken *token = mu_signed_token_parse_json (json, &error);

	g_assert_no_error (error);
	g_assert_nonnull (token);
	return token;
}

static void
assert_token_refused (const gchar *json, const gchar *message)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedToken) token = mu_signed_token_parse_json (json, &error);

	g_assert_null (token);
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
	if (strstr (error->message, message) == NULL)
		g_error ("'%s' does not say '%s' (token %s)", error->message, message, json);
}

static MuKeyring *
keyring_of (MuEd25519SecretKey *trusted, MuEd25519SecretKey *revoked)
{
	MuKeyring *keyring = mu_keyring_new ();

	if (trusted != NULL)
		mu_keyring_add_trusted_key (keyring, mu_ed25519_secret_key_get_public (trusted));
	if (revoked != NULL)
		mu_keyring_add_revoked_key (keyring, mu_ed25519_secret_key_get_public (revoked));
	return keyring;
}

/* Verify fails with @code, returns no header and leaves *ret_key alone. */
static void
assert_verify_fails (MuSignedToken *token, MuKeyring *keyring, gint code)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSignedHeader) h = NULL;
	MuEd25519Key *key = NULL;

	h = mu_signed_token_verify (token, keyring, &key, &error);
	g_assert_null (h);
	g_assert_null (key);
	g_assert_error (error, MU_ERROR, code);
}

static MuSignedHeader *
verify_ok (MuSignedToken *token, MuKeyring *keyring, MuEd25519SecretKey *expected_signer)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519Key) key = NULL;
	MuSignedHeader *h = mu_signed_token_verify (token, keyring, &key, &error);

	g_assert_no_error (error);
	g_assert_nonnull (h);
	g_assert_true (
		mu_ed25519_key_equal (key, mu_ed25519_secret_key_get_public (expected_signer)));
	return h;
}

static void
test_token_build_exact (TokenFixture *fx, gconstpointer data)
{
	MuEd25519SecretKey *keys[] = { fx->vendor, fx->other };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *json = mu_signed_token_build_json (fx->header, keys, 2, &error);
	g_autofree gchar *sigs = quoted (fx->vendor_sig, fx->other_sig);
	g_autofree gchar *expected = token_json (fx->header_b64, sigs);

	g_assert_no_error (error);
	/* Exactly the documented layout, signatures in the order of the keys. */
	g_assert_cmpstr (json, ==, expected);
}

static void
test_token_build_refused (TokenFixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	MuEd25519SecretKey *keys[MU_SIGNED_HEADER_MAX_SIGNATURES + 1];
	MuEd25519SecretKey *twice[] = { fx->vendor, fx->other, fx->vendor };
	g_autofree gchar *json = NULL;

	for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
		keys[i] = mu_ed25519_secret_key_generate (&error);
		g_assert_no_error (error);
	}
	json = mu_signed_token_build_json (fx->header, keys, 0, &error);
	g_assert_null (json);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_clear_error (&error);
	json = mu_signed_token_build_json (fx->header, keys, G_N_ELEMENTS (keys), &error);
	g_assert_null (json);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_clear_error (&error);
	json = mu_signed_token_build_json (fx->header, twice, 3, &error);
	g_assert_null (json);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull (strstr (error->message, "given twice"));
	g_clear_error (&error);
	/* The most keys allowed work. */
	json = mu_signed_token_build_json (fx->header, keys, MU_SIGNED_HEADER_MAX_SIGNATURES,
					   &error);
	g_assert_no_error (error);
	g_clear_pointer (&json, g_free);
	/* An invalid header is not signed. */
	fx->header->sector_size = 512;
	json = mu_signed_token_build_json (fx->header, keys, 1, &error);
	g_assert_null (json);
	g_assert_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT);
	for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
		mu_ed25519_secret_key_free (keys[i]);
}

static void
test_token_json_refused (TokenFixture *fx, gconstpointer data)
{
	g_autofree gchar *sig = quoted (fx->vendor_sig, NULL);
	g_autofree gchar *no_pad = g_strndup (fx->header_b64, strlen (fx->header_b64) - 1);
	g_autofree gchar *big_b64 = NULL;
	g_autofree gchar *sig63 = NULL;
	g_autofree gchar *sig65 = NULL;
	g_autoptr (GString) nine = g_string_new (NULL);
	g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GPtrArray) messages = g_ptr_array_new ();
	g_autoptr (GPtrArray) garbage = g_ptr_array_new_with_free_func (g_free);
	g_autofree guint8 *big = g_malloc0 (MU_SIGNED_HEADER_MAX_SIZE + 1);
	g_autofree guint8 *raw = g_malloc0 (65);
	g_autofree gchar *huge = NULL;

	g_assert_true (g_str_has_suffix (fx->header_b64, "="));
	big_b64 = g_base64_encode (big, MU_SIGNED_HEADER_MAX_SIZE + 1);
	sig63 = g_base64_encode (raw, 63);
	sig65 = g_base64_encode (raw, 65);
	for (guint i = 0; i < MU_SIGNED_HEADER_MAX_SIGNATURES + 1; i++)
		g_string_append_printf (nine, "%s\"%s\"", i > 0 ? "," : "", fx->vendor_sig);

#define K(text) keep (garbage, (text))
#define CASE(message, ...)                                                                         \
	do {                                                                                       \
		g_ptr_array_add (cases, g_strdup_printf (__VA_ARGS__));                            \
		g_ptr_array_add (messages, (gpointer) message);                                    \
	} while (0)
	CASE ("is not a JSON object", "not json");
	CASE ("is not a JSON object", "[]");
	CASE ("is not a JSON object", "\"text\"");
	CASE ("is not a JSON object", "{\"type\":\"mediaupd-signed\"");
	/* Each member missing. */
	CASE ("no string member 'type'", "{\"keyslots\":[],\"header\":\"%s\",\"signatures\":[%s]}",
	      fx->header_b64, sig);
	CASE ("is not assigned to an empty list of keyslots",
	      "{\"type\":\"mediaupd-signed\",\"header\":\"%s\",\"signatures\":[%s]}",
	      fx->header_b64, sig);
	CASE ("no string member 'header'",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"signatures\":[%s]}", sig);
	CASE ("no array 'signatures'",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"header\":\"%s\"}", fx->header_b64);
	/* An extra member, even a harmless one. */
	CASE ("unknown member \"comment\"",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"header\":\"%s\",\"signatures\":[%s],"
	      "\"comment\":\"hi\"}",
	      fx->header_b64, sig);
	CASE ("unknown member \"key_id\"",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"key_id\":\"x\",\"header\":\"%s\","
	      "\"signatures\":[%s]}",
	      fx->header_b64, sig);
	/* Wrong type or kind of value. */
	CASE ("is of another type",
	      "{\"type\":\"mediaupd-keyid\",\"keyslots\":[],\"header\":\"%s\",\"signatures\":[%s]}",
	      fx->header_b64, sig);
	CASE ("no string member 'type'",
	      "{\"type\":2,\"keyslots\":[],\"header\":\"%s\",\"signatures\":[%s]}", fx->header_b64,
	      sig);
	/* Assigned to a keyslot, or keyslots not a list. */
	CASE ("empty list of keyslots",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[\"0\"],\"header\":\"%s\","
	      "\"signatures\":[%s]}",
	      fx->header_b64, sig);
	CASE ("empty list of keyslots",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":{},\"header\":\"%s\",\"signatures\":[%s]}",
	      fx->header_b64, sig);
	/* Bad base64 for the header. */
	CASE ("not the canonical base64", "%s", K (token_json ("", sig)));
	CASE ("not the canonical base64", "%s", K (token_json (no_pad, sig)));
	CASE ("not the canonical base64", "%s",
	      K (token_json (K (g_strdup_printf ("%s\\n", fx->header_b64)), sig)));
	CASE ("not the canonical base64", "%s",
	      K (token_json (K (g_strdup_printf (" %s", fx->header_b64)), sig)));
	CASE ("not the canonical base64", "%s",
	      K (token_json (K (g_strdup_printf ("!%s", fx->header_b64 + 1)), sig)));
	CASE ("not the canonical base64", "%s", K (token_json (big_b64, sig)));
	CASE ("no string member 'header'",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"header\":[],\"signatures\":[%s]}",
	      sig);
	/* Signatures: too many, wrong length, not base64, not a string. */
	CASE ("carries 9 signatures, more than the 8", "%s",
	      K (token_json (fx->header_b64, nine->str)));
	CASE ("signature 1 is not the canonical base64 of 64 bytes", "%s",
	      K (token_json (fx->header_b64, K (g_strdup_printf ("\"%s\"", sig63)))));
	CASE ("signature 2 is not the canonical base64 of 64 bytes", "%s",
	      K (token_json (fx->header_b64, K (g_strdup_printf ("%s,\"%s\"", sig, sig65)))));
	CASE ("signature 1 is not", "%s", K (token_json (fx->header_b64, "64")));
	CASE ("signature 1 is not", "%s", K (token_json (fx->header_b64, "null")));
	CASE ("signature 1 is not", "%s",
	      K (token_json (fx->header_b64, K (g_strdup_printf ("\"%.86s\"", fx->vendor_sig)))));
	CASE ("no array 'signatures'",
	      "{\"type\":\"mediaupd-signed\",\"keyslots\":[],\"header\":\"%s\",\"signatures\":%s}",
	      fx->header_b64, sig);
#undef CASE
#undef K

	for (guint i = 0; i < cases->len; i++)
		assert_token_refused (cases->pdata[i], messages->pdata[i]);

	huge = g_strnfill (64 * 1024, ' ');
	assert_token_refused (huge, "bytes of JSON, more than");
}

static void
test_token_signatures (TokenFixture *fx, gconstpointer data)
{
	g_autofree gchar *vendor = quoted (fx->vendor_sig, NULL);
	g_autofree gchar *other = quoted (fx->other_sig, NULL);
	g_autofree gchar *other_then_vendor = quoted (fx->other_sig, fx->vendor_sig);
	g_autofree guint8 *zeros = g_malloc0 (64);
	g_autofree gchar *zero_sig = g_base64_encode (zeros, 64);
	g_autofree gchar *garbage_then_vendor = quoted (zero_sig, fx->vendor_sig);
	g_autofree gchar *json_vendor = token_json (fx->header_b64, vendor);
	g_autofree gchar *json_other = token_json (fx->header_b64, other);
	g_autofree gchar *json_two = token_json (fx->header_b64, other_then_vendor);
	g_autofree gchar *json_garbage = token_json (fx->header_b64, garbage_then_vendor);
	g_autofree gchar *json_none = token_json (fx->header_b64, "");
	g_autoptr (MuSignedToken) t_vendor = parse_token_ok (json_vendor);
	g_autoptr (MuSignedToken) t_other = parse_token_ok (json_other);
	g_autoptr (MuSignedToken) t_two = parse_token_ok (json_two);
	g_autoptr (MuSignedToken) t_garbage = parse_token_ok (json_garbage);
	g_autoptr (MuSignedToken) t_none = parse_token_ok (json_none);
	g_autoptr (MuKeyring) trusts_vendor = keyring_of (fx->vendor, NULL);
	g_autoptr (MuKeyring) trusts_other = keyring_of (fx->other, NULL);
	g_autoptr (MuKeyring) revoked_vendor = keyring_of (fx->vendor, fx->vendor);
	g_autoptr (MuKeyring) only_revoked = keyring_of (NULL, fx->vendor);
	g_autoptr (MuKeyring) empty = mu_keyring_new ();
	g_autoptr (MuSignedHeader) h1 = NULL;
	g_autoptr (MuSignedHeader) h2 = NULL;
	g_autoptr (MuSignedHeader) h3 = NULL;
	g_autoptr (MuSignedHeader) h4 = NULL;

	g_assert_cmpuint (mu_signed_token_get_n_signatures (t_two), ==, 2);
	g_assert_cmpuint (mu_signed_token_get_n_signatures (t_none), ==, 0);

	/* Trusted. */
	h1 = verify_ok (t_vendor, trusts_vendor, fx->vendor);
	assert_headers_equal (fx->header, h1);
	/* An untrusted key's signature. */
	assert_verify_fails (t_other, trusts_vendor, MU_ERROR_SIGNATURE_INVALID);
	/* The vendor's key, revoked; or revoked and nothing else known. */
	assert_verify_fails (t_vendor, revoked_vendor, MU_ERROR_KEY_REVOKED);
	assert_verify_fails (t_vendor, only_revoked, MU_ERROR_KEY_REVOKED);
	/* No trusted key at all. */
	assert_verify_fails (t_vendor, empty, MU_ERROR_NO_TRUSTED_KEYS);
	/* No signature. */
	assert_verify_fails (t_none, trusts_vendor, MU_ERROR_UNSIGNED);
	assert_verify_fails (t_none, empty, MU_ERROR_UNSIGNED);
	/* A valid signature after one by another key, or after a garbage one. */
	h2 = verify_ok (t_two, trusts_vendor, fx->vendor);
	h3 = verify_ok (t_garbage, trusts_vendor, fx->vendor);
	/* Two signatures, the keyring knows the second signer only. */
	h4 = verify_ok (t_two, trusts_other, fx->other);
	assert_headers_equal (fx->header, h4);
	/* The revoked vendor's signature does not hide a valid one by a trusted key. */
	g_clear_pointer (&h4, mu_signed_header_free);
	{
		g_autoptr (MuKeyring) both = keyring_of (fx->other, fx->vendor);

		h4 = verify_ok (t_two, both, fx->other);
	}
}

/* A valid signature over bytes that are not a valid header: verified, then refused. */
static void
test_token_signed_garbage (TokenFixture *fx, gconstpointer data)
{
	g_autoptr (MuSignedHeader) bad = make_header ();
	g_autoptr (GBytes) raw = NULL;
	g_autofree gchar *raw_b64 = NULL;
	g_autofree gchar *raw_sig = NULL;
	g_autofree gchar *sig = NULL;
	g_autofree gchar *json = NULL;
	g_autoptr (MuSignedToken) token = NULL;
	g_autoptr (MuKeyring) keyring = keyring_of (fx->vendor, NULL);
	g_autoptr (MuSignedHeader) peeked = NULL;
	g_autoptr (GError) error = NULL;

	bad->format = 3;
	raw = raw_bytes (bad, MU_SIGNED_HEADER_MAGIC);
	raw_b64 = b64 (raw);
	raw_sig = sign_b64 (fx->vendor, raw);
	sig = quoted (raw_sig, NULL);
	json = token_json (raw_b64, sig);
	token = parse_token_ok (json);
	assert_verify_fails (token, keyring, MU_ERROR_UNSUPPORTED_FORMAT);
	peeked = mu_signed_token_peek_header (token, &error);
	g_assert_null (peeked);
	g_assert_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT);
}

/* Another valid header under the vendor's signature of the first. */
static void
test_token_swapped_header (TokenFixture *fx, gconstpointer data)
{
	g_autoptr (MuSignedHeader) other = make_header ();
	g_autoptr (GBytes) bytes = NULL;
	g_autofree gchar *other_b64 = NULL;
	g_autofree gchar *sig = quoted (fx->vendor_sig, NULL);
	g_autofree gchar *json = NULL;
	g_autoptr (MuSignedToken) token = NULL;
	g_autoptr (MuKeyring) keyring = keyring_of (fx->vendor, NULL);
	g_autoptr (MuSignedHeader) peeked = NULL;
	g_autoptr (GError) error = NULL;

	set_str (&other->from_commit, "");
	bytes = serialize_ok (other);
	other_b64 = b64 (bytes);
	json = token_json (other_b64, sig);
	token = parse_token_ok (json);
	assert_verify_fails (token, keyring, MU_ERROR_SIGNATURE_INVALID);
	/* peek shows what it claims, unverified. */
	peeked = mu_signed_token_peek_header (token, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (peeked->from_commit, ==, "");
}

/* Every byte of the header changed: the parser refuses it or the signature does. */
static void
test_byte_flips (TokenFixture *fx, gconstpointer data)
{
	static const guint8 masks[] = { 0xff, 0x01, 0x80 };
	g_autoptr (MuKeyring) keyring = keyring_of (fx->vendor, NULL);
	g_autofree gchar *sig = quoted (fx->vendor_sig, NULL);
	gsize size = 0;
	const guint8 *data_in = g_bytes_get_data (fx->bytes, &size);
	guint parsed = 0;
	guint refused = 0;

	for (guint m = 0; m < G_N_ELEMENTS (masks); m++) {
		for (gsize i = 0; i < size; i++) {
			g_autofree guint8 *copy = g_memdup2 (data_in, size);
			g_autoptr (GBytes) flipped = NULL;
			g_autoptr (MuSignedHeader) h = NULL;
			g_autoptr (GError) error = NULL;
			g_autofree gchar *flipped_b64 = NULL;
			g_autofree gchar *json = NULL;
			g_autoptr (MuSignedToken) token = NULL;

			copy[i] ^= masks[m];
			flipped = g_bytes_new (copy, size);
			h = mu_signed_header_parse (flipped, &error);
			if (h == NULL) {
				g_assert_true (g_error_matches (error, MU_ERROR,
								MU_ERROR_CORRUPT_BUNDLE) ||
					       g_error_matches (error, MU_ERROR,
								MU_ERROR_UNSUPPORTED_FORMAT));
				refused++;
			} else {
				parsed++;
			}
			/* Either way the token with the vendor's signature is refused. */
			flipped_b64 = b64 (flipped);
			json = token_json (flipped_b64, sig);
			token = parse_token_ok (json);
			assert_verify_fails (token, keyring, MU_ERROR_SIGNATURE_INVALID);
		}
	}
	g_test_message ("%u changed headers refused by the parser, %u by the signature only",
			refused, parsed);
	/* Both paths ran: salts and digests can change and still parse. */
	g_assert_cmpuint (parsed, >, 0);
	g_assert_cmpuint (refused, >, 0);
}

/* The hash tree size against what veritysetup writes. */

static gboolean
run (GError **error, const gchar *first, ...)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new ();
	g_autoptr (GSubprocess) proc = NULL;
	const gchar *arg;
	va_list ap;

	g_ptr_array_add (argv, (gpointer) first);
	va_start (ap, first);
	while ((arg = va_arg (ap, const gchar *)) != NULL)
		g_ptr_array_add (argv, (gpointer) arg);
	va_end (ap);
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_newv ((const gchar *const *) argv->pdata,
				  G_SUBPROCESS_FLAGS_STDOUT_SILENCE, error);
	return proc != NULL && g_subprocess_wait_check (proc, NULL, error);
}

static guint64
file_size (const gchar *path)
{
	GStatBuf st;

	g_assert_cmpint (g_stat (path, &st), ==, 0);
	return (guint64) st.st_size;
}

static void
make_sparse_file (const gchar *path, guint64 size)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *size_arg = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

	g_unlink (path);
	g_assert_true (run (&error, "truncate", "-s", size_arg, path, NULL));
	g_assert_no_error (error);
}

static void
test_hash_tree_size (void)
{
	static const guint64 blocks[] = { 1, 2, 127, 128, 129, 16383, 16384, 16385 };
	g_autofree gchar *dir = NULL;
	g_autofree gchar *data = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *veritysetup = g_find_program_in_path ("veritysetup");
	g_autoptr (MuSignedHeader) h = make_header ();
	const gchar *salt = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

	if (veritysetup == NULL) {
		g_test_skip ("veritysetup is not installed");
		return;
	}
	dir = sign_test_make_tmpdir ();
	data = g_build_filename (dir, "data", NULL);
	hash = g_build_filename (dir, "hash", NULL);
	for (guint i = 0; i < G_N_ELEMENTS (blocks); i++) {
		g_autoptr (GError) error = NULL;

		make_sparse_file (data, blocks[i] * 4096);
		g_unlink (hash);
		g_assert_true (run (&error, veritysetup, "format", "--no-superblock", "--hash",
				    "sha256", "--data-block-size", "4096", "--hash-block-size",
				    "4096", "--salt", salt, data, hash, NULL));
		g_assert_no_error (error);
		h->data_size = blocks[i] * 4096;
		g_test_message ("%" G_GUINT64_FORMAT " blocks: veritysetup wrote %" G_GUINT64_FORMAT
				" bytes",
				blocks[i], file_size (hash));
		g_assert_cmpuint (mu_signed_header_hash_tree_size (h), ==, file_size (hash));
	}

	/* The tree written into the file itself at hash_offset (veritysetup --hash-offset):
	 * the file then ends where the header says it must. */
	{
		g_autoptr (GError) error = NULL;
		g_autofree gchar *offset_arg = NULL;

		set_segment (h, 16 * 4096, 129 * 4096);
		make_sparse_file (data, h->hash_offset);
		offset_arg = g_strdup_printf ("--hash-offset=%" G_GUINT64_FORMAT, h->hash_offset);
		g_assert_true (run (&error, veritysetup, "format", "--no-superblock", offset_arg,
				    "--data-blocks", "129", "--salt", salt, data, data, NULL));
		g_assert_no_error (error);
		g_assert_cmpuint (file_size (data), ==,
				  h->hash_offset + mu_signed_header_hash_tree_size (h));
	}
	sign_test_rm_rf (dir);
}

/* The live LUKS2 header: files made with cryptsetup, edited as a forger would
 * (luks2-edit.py), and read back through libcryptsetup's crypt_dump_json. */

#define LUKS_DATA_SIZE (129 * 4096)

typedef struct {
	gchar *dir;
	gchar *key;
	gchar *base; /* luksFormat, then a fixed-size segment */
} LuksFixture;

static gchar *
source_path (const gchar *name)
{
	const gchar *root = g_getenv ("MEDIAUPD_SOURCE_ROOT");

	g_assert_nonnull (root);
	return g_build_filename (root, "tests", "unit", name, NULL);
}

static gchar *
dump_json (const gchar *path)
{
	g_autoptr (MuCryptDevice) cd = NULL;
	const gchar *json = NULL;

	mu_luks_init ();
	g_assert_cmpint (crypt_init (&cd, path), ==, 0);
	g_assert_cmpint (crypt_load (cd, CRYPT_LUKS2, NULL), ==, 0);
	g_assert_cmpint (crypt_dump_json (cd, &json, 0), ==, 0);
	return g_strdup (json);
}

/* A copy of the base file with @edits (PATH=JSON for luks2-edit.py --set, NULL-ended). */
static gchar *
edited_copy (LuksFixture *fx, const gchar *name, const gchar *const *edits)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *path = g_build_filename (fx->dir, name, NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GFile) src = g_file_new_for_path (fx->base);
	g_autoptr (GFile) dst = g_file_new_for_path (path);

	g_file_copy (src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
	g_assert_no_error (error);
	g_ptr_array_add (argv, g_strdup ("python3"));
	g_ptr_array_add (argv, source_path ("luks2-edit.py"));
	g_ptr_array_add (argv, g_strdup (path));
	for (guint i = 0; edits[i] != NULL; i++) {
		g_ptr_array_add (argv, g_strdup ("--set"));
		g_ptr_array_add (argv, g_strdup (edits[i]));
	}
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_newv ((const gchar *const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE,
				  &error);
	g_assert_no_error (error);
	g_subprocess_wait_check (proc, NULL, &error);
	g_assert_no_error (error);
	return g_steal_pointer (&path);
}

static void
luks_setup (LuksFixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *keyslots = g_strdup_printf ("%d", MU_BUNDLE_V2_KEYSLOT_ROOM_DEFAULT *
								    MU_BUNDLE_KEYSLOT_AREA_SIZE);
	g_autofree gchar *format = NULL;
	g_autofree guint8 *key = g_malloc (32);
	const gchar *const fixed[] = { "segments.0.size=\"528384\"", NULL };

	fx->dir = sign_test_make_tmpdir ();
	fx->key = g_build_filename (fx->dir, "key", NULL);
	for (guint i = 0; i < 32; i++)
		key[i] = (guint8) g_random_int_range (0, 256);
	g_file_set_contents (fx->key, (const gchar *) key, 32, &error);
	g_assert_no_error (error);
	format = g_build_filename (fx->dir, "format", NULL);
	make_sparse_file (format, 4 * 1024 * 1024);
	g_assert_true (run (&error, "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2",
			    "--disable-locks", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
			    "1000", "--luks2-metadata-size", "64k", "--luks2-keyslots-size",
			    keyslots, "--sector-size", "4096", "--key-file", fx->key, format,
			    NULL));
	g_assert_no_error (error);
	fx->base = format;
	fx->base = edited_copy (fx, "base", fixed);
	g_unlink (format);
}

static void
luks_teardown (LuksFixture *fx, gconstpointer data)
{
	sign_test_rm_rf (fx->dir);
	g_free (fx->dir);
	g_free (fx->key);
	g_free (fx->base);
}

static JsonObject *
only_object (JsonObject *object, const gchar *name)
{
	JsonObject *member = json_object_get_object_member (object, name);
	g_autoptr (GList) names = json_object_get_members (member);

	g_assert_cmpuint (g_list_length (names), ==, 1);
	return json_object_get_object_member (member, names->data);
}

static GBytes *
json_base64 (JsonObject *object, const gchar *name)
{
	gsize len = 0;
	guchar *raw = g_base64_decode (json_object_get_string_member (object, name), &len);

	return g_bytes_new_take (raw, len);
}

/* make_header() with the segment and digest of the live header @json. */
static MuSignedHeader *
header_for (const gchar *json)
{
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autoptr (GError) error = NULL;
	MuSignedHeader *h = make_header ();
	JsonObject *root;
	JsonObject *segment;
	JsonObject *digest;
	JsonObject *keyslot;

	json_parser_load_from_data (parser, json, -1, &error);
	g_assert_no_error (error);
	root = json_node_get_object (json_parser_get_root (parser));
	segment = only_object (root, "segments");
	digest = only_object (root, "digests");
	keyslot = only_object (root, "keyslots");
	set_segment (h,
		     g_ascii_strtoull (json_object_get_string_member (segment, "offset"), NULL, 10),
		     g_ascii_strtoull (json_object_get_string_member (segment, "size"), NULL, 10));
	set_str (&h->cipher, json_object_get_string_member (segment, "encryption"));
	h->sector_size = (guint32) json_object_get_int_member (segment, "sector_size");
	h->key_size = (guint32) json_object_get_int_member (keyslot, "key_size");
	set_str (&h->digest_type, json_object_get_string_member (digest, "type"));
	set_str (&h->digest_hash, json_object_get_string_member (digest, "hash"));
	h->digest_iterations = (guint32) json_object_get_int_member (digest, "iterations");
	set_bytes (&h->digest_salt, json_base64 (digest, "salt"));
	set_bytes (&h->digest, json_base64 (digest, "digest"));
	return h;
}

static guint64
bundle_size (const MuSignedHeader *h)
{
	return h->hash_offset + mu_signed_header_hash_tree_size (h);
}

static void
assert_luks_refused (const MuSignedHeader *h, const gchar *json, guint64 size, const gchar *message)
{
	g_autoptr (GError) error = NULL;

	g_assert_false (mu_signed_header_check_luks (h, json, size, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
	if (strstr (error->message, message) == NULL)
		g_error ("'%s' does not say '%s'", error->message, message);
}

static void
test_luks_match (LuksFixture *fx, gconstpointer data)
{
	g_autofree gchar *json = dump_json (fx->base);
	g_autoptr (MuSignedHeader) h = header_for (json);
	g_autoptr (GBytes) bytes = NULL;
	g_autoptr (GError) error = NULL;

	/* What cryptsetup made is a valid v2 geometry. */
	g_assert_cmpuint (h->data_size, ==, LUKS_DATA_SIZE);
	g_assert_cmpuint (h->data_offset, >=,
			  2 * MU_BUNDLE_V2_METADATA_SIZE +
				  MU_BUNDLE_V2_KEYSLOT_ROOM_DEFAULT * MU_BUNDLE_KEYSLOT_AREA_SIZE);
	bytes = serialize_ok (h);
	g_assert_true (mu_signed_header_check_luks (h, json, bundle_size (h), &error));
	g_assert_no_error (error);

	/* The file one byte shorter or longer than the signed data and tree. */
	assert_luks_refused (h, json, bundle_size (h) - 1, "the file is");
	assert_luks_refused (h, json, bundle_size (h) + 1, "the file is");
	assert_luks_refused (h, json, h->hash_offset, "the file is");
}

static void
test_luks_edited (LuksFixture *fx, gconstpointer data)
{
	g_autofree gchar *base_json = dump_json (fx->base);
	g_autoptr (MuSignedHeader) h = header_for (base_json);
	g_autofree gchar *offset = g_strdup_printf ("segments.0.offset=\"%" G_GUINT64_FORMAT "\"",
						    h->data_offset + 4096);
	g_autofree gchar *size = g_strdup_printf ("segments.0.size=\"%" G_GUINT64_FORMAT "\"",
						  h->data_size - 4096);
	g_autofree gchar *second = g_strdup_printf (
		"segments.1={\"type\":\"crypt\",\"offset\":\"%" G_GUINT64_FORMAT
		"\",\"size\":\"dynamic\",\"iv_tweak\":\"%d\",\"encryption\":\"aes-xts-plain64\","
		"\"sector_size\":4096}",
		h->hash_offset, LUKS_DATA_SIZE / 512);
	g_autofree gchar *salt = NULL;
	g_autofree gchar *digest = NULL;
	g_autofree gchar *salt_edit = NULL;
	g_autofree gchar *digest_edit = NULL;
	struct {
		const gchar *name;
		const gchar *edits[3];
		const gchar *message;
	} cases[] = {
		{ "offset", { offset }, "data segment offset" },
		{ "size", { size }, "data segment size" },
		{ "dynamic", { "segments.0.size=\"dynamic\"" }, "size is dynamic" },
		{ "cipher",
		  { "segments.0.encryption=\"aes-cbc-essiv:sha256\"" },
		  "not encrypted with aes-xts-plain64" },
		{ "sector", { "segments.0.sector_size=512" }, "sector size is not 4096" },
		{ "iv-tweak", { "segments.0.iv_tweak=\"8\"" }, "iv_tweak is not 0" },
		{ "integrity",
		  { "segments.0.integrity={\"type\":\"hmac(sha256)\",\"journal_encryption\":"
		    "\"none\",\"journal_integrity\":\"none\"}" },
		  "integrity" },
		{ "flags", { "segments.0.flags=[\"x-unknown\"]" }, "has flags" },
		{ "two-segments",
		  { second, "digests.0.segments=[\"0\",\"1\"]" },
		  "not exactly one segment" },
		{ "digest-salt", { NULL }, "digest salt differs" },
		{ "digest", { NULL }, "volume key digest differs" },
		{ "iterations", { "digests.0.iterations=2000" }, "iterations are not" },
	};
	guint8 random[32];

	for (guint i = 0; i < sizeof random; i++)
		random[i] = (guint8) g_random_int_range (0, 256);
	salt = g_base64_encode (random, sizeof random);
	random[0] ^= 1;
	digest = g_base64_encode (random, sizeof random);
	salt_edit = g_strdup_printf ("digests.0.salt=\"%s\"", salt);
	digest_edit = g_strdup_printf ("digests.0.digest=\"%s\"", digest);
	cases[9].edits[0] = salt_edit;
	cases[10].edits[0] = digest_edit;

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *path = NULL;
		g_autofree gchar *json = NULL;

		g_test_message ("live header edited: %s", cases[i].name);
		path = edited_copy (fx, cases[i].name, cases[i].edits);
		json = dump_json (path);
		g_assert_cmpstr (json, !=, base_json);
		assert_luks_refused (h, json, bundle_size (h), cases[i].message);
	}
	/* The unedited header still matches: each refusal came from its edit. */
	g_assert_true (mu_signed_header_check_luks (h, base_json, bundle_size (h), NULL));
}

/* The same comparison from the signed side: each signed field changed. */
static void
test_luks_header_changed (LuksFixture *fx, gconstpointer data)
{
	g_autofree gchar *json = dump_json (fx->base);
	static const struct {
		const gchar *name;
		const gchar *message;
	} cases[] = {
		{ "offset", "data segment offset" }, { "size", "data segment size" },
		{ "cipher", "not encrypted with" },  { "sector", "sector size is not" },
		{ "hash", "digest hash is not" },    { "iterations", "iterations are not" },
		{ "salt", "digest salt differs" },   { "digest", "volume key digest differs" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (MuSignedHeader) h = header_for (json);

		switch (i) {
		case 0:
			set_segment (h, h->data_offset - 4096, h->data_size + 4096);
			break;
		case 1:
			set_segment (h, h->data_offset, h->data_size + 4096);
			break;
		case 2:
			set_cipher_adiantum (h);
			break;
		case 3:
			h->sector_size = 512;
			break;
		case 4:
			set_digest_sha512 (h);
			break;
		case 5:
			h->digest_iterations++;
			break;
		case 6:
			set_bytes (&h->digest_salt, filled (32, 0x5a));
			break;
		default:
			set_bytes (&h->digest, filled (32, 0xa5));
			break;
		}
		g_test_message ("signed header changed: %s", cases[i].name);
		assert_luks_refused (h, json, bundle_size (h), cases[i].message);
	}
}

static void
test_luks_not_json (void)
{
	g_autoptr (MuSignedHeader) h = make_header ();

	assert_luks_refused (h, "not json", bundle_size (h), "does not parse");
	assert_luks_refused (h, "", bundle_size (h), "not an object");
	assert_luks_refused (h, "{}", bundle_size (h), "no segments");
	assert_luks_refused (h, "{\"segments\":{}}", bundle_size (h), "not exactly one segment");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	g_test_add_func ("/signed-header/round-trip", test_round_trip);
	g_test_add_func ("/signed-header/round-trip-variants", test_round_trip_variants);
	g_test_add_func ("/signed-header/bad-fields", test_bad_fields);
	g_test_add_func ("/signed-header/missing-fields", test_missing_fields);
	g_test_add_func ("/signed-header/null-bindings", test_null_bindings);
	g_test_add_func ("/signed-header/bad-magic", test_bad_magic);
	g_test_add_func ("/signed-header/truncated-and-extended", test_truncated_and_extended);
	g_test_add_func ("/signed-header/not-normal-form", test_not_normal_form);
	g_test_add_func ("/signed-header/oversize", test_oversize);
	g_test_add_func ("/signed-header/unknown-version", test_unknown_version);
	g_test_add_func ("/signed-header/hash-tree-size", test_hash_tree_size);
	g_test_add_func ("/signed-header/token/round-trip", test_token_round_trip);
#define TOKEN_TEST(path, func)                                                                     \
	g_test_add ("/signed-header/token/" path, TokenFixture, NULL, token_setup, func,           \
		    token_teardown)
	TOKEN_TEST ("build-exact", test_token_build_exact);
	TOKEN_TEST ("build-refused", test_token_build_refused);
	TOKEN_TEST ("json-refused", test_token_json_refused);
	TOKEN_TEST ("signatures", test_token_signatures);
	TOKEN_TEST ("signed-garbage", test_token_signed_garbage);
	TOKEN_TEST ("swapped-header", test_token_swapped_header);
	TOKEN_TEST ("byte-flips", test_byte_flips);
#undef TOKEN_TEST
	g_test_add_func ("/signed-header/luks/not-json", test_luks_not_json);
	g_test_add ("/signed-header/luks/match", LuksFixture, NULL, luks_setup, test_luks_match,
		    luks_teardown);
	g_test_add ("/signed-header/luks/edited", LuksFixture, NULL, luks_setup, test_luks_edited,
		    luks_teardown);
	g_test_add ("/signed-header/luks/header-changed", LuksFixture, NULL, luks_setup,
		    test_luks_header_changed, luks_teardown);
	return g_test_run ();
}
