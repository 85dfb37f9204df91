/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-keyring.h"
#include "mu-signed-delta.h"
#include "sign-test-util.h"

typedef struct {
	MuEd25519SecretKey *key;   /* the vendor's key */
	MuEd25519SecretKey *other; /* somebody else's */
	GBytes *superblock;
	GBytes *signed_delta; /* superblock signed with key */
} Fixture;

/* A small superblock of the real type: metadata, timestamp, from, to, to-commit, parts. */
static GBytes *
make_superblock (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) v = g_variant_parse (
		G_VARIANT_TYPE (MU_SUPERBLOCK_FORMAT),
		"({'ostree.endianness': <byte 0x6c>}, uint64 1700000000, [byte 1, 2, 3],"
		" [byte 4, 5, 6], ({'version': <'2.0'>}, b'', [], 'subject', 'body',"
		" uint64 1700000000, [byte 7], [byte 8]), b'', [(uint32 0, [byte 9, 9],"
		" uint64 100, uint64 200, b'')], [])",
		NULL, NULL, &error);

	g_assert_no_error (error);
	g_assert_true (g_variant_is_normal_form (v));
	return g_variant_get_data_as_bytes (v);
}

static GBytes *
sign_with (GBytes *superblock, MuEd25519SecretKey **keys, guint n)
{
	g_autoptr (GError) error = NULL;
	GBytes *out = mu_signed_delta_sign (superblock, keys, n, &error);

	g_assert_no_error (error);
	g_assert_nonnull (out);
	return out;
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	fx->key = mu_ed25519_secret_key_generate (&error);
	g_assert_no_error (error);
	fx->other = mu_ed25519_secret_key_generate (&error);
	g_assert_no_error (error);
	fx->superblock = make_superblock ();
	fx->signed_delta = sign_with (fx->superblock, &fx->key, 1);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
	mu_ed25519_secret_key_free (fx->key);
	mu_ed25519_secret_key_free (fx->other);
	g_bytes_unref (fx->superblock);
	g_bytes_unref (fx->signed_delta);
}

static MuKeyring *
keyring_trusting (MuEd25519SecretKey **keys, guint n)
{
	MuKeyring *keyring = mu_keyring_new ();

	for (guint i = 0; i < n; i++)
		mu_keyring_add_trusted_key (keyring, mu_ed25519_secret_key_get_public (keys[i]));
	return keyring;
}

/* Verifies @data against @keyring and expects the error @code. */
static void
assert_refused (GBytes *data, MuKeyring *keyring, MuErrorCode code)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (MuEd25519Key) key = NULL;

	g_assert_false (mu_signed_delta_verify_bytes (data, keyring, &superblock, &key, &error));
	g_assert_error (error, MU_ERROR, (gint) code);
	g_assert_null (superblock);
	g_assert_null (key);
}

/* A copy of @data with byte @offset flipped. */
static GBytes *
flip_byte (GBytes *data, gsize offset)
{
	gsize size;
	const guint8 *p = g_bytes_get_data (data, &size);
	guint8 *copy = g_memdup2 (p, size);

	g_assert_cmpuint (offset, <, size);
	copy[offset] ^= 0x01;
	return g_bytes_new_take (copy, size);
}

static void
test_roundtrip (Fixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (MuEd25519Key) key = NULL;
	g_autoptr (MuSignedDelta) delta = NULL;
	g_autoptr (GVariant) envelope = NULL;
	g_autoptr (GBytes) again = NULL;
	gsize size;
	const gchar *bytes = g_bytes_get_data (fx->signed_delta, &size);

	g_assert_cmpuint (size, >, 8);
	g_assert_cmpmem (bytes, 8, "OSTSGNDT", 8);
	envelope = g_variant_new_from_bytes (G_VARIANT_TYPE (MU_SIGNED_DELTA_FORMAT),
					     fx->signed_delta, FALSE);
	g_assert_true (g_variant_is_normal_form (envelope));

	g_assert_true (mu_signed_delta_verify_bytes (fx->signed_delta, keyring, &superblock, &key,
						     &error));
	g_assert_no_error (error);
	g_assert_true (g_bytes_equal (superblock, fx->superblock));
	g_assert_true (mu_ed25519_key_equal (key, mu_ed25519_secret_key_get_public (fx->key)));
	g_assert_cmpstr (mu_ed25519_key_get_id (key), ==,
			 mu_ed25519_key_get_id (mu_ed25519_secret_key_get_public (fx->key)));

	delta = mu_signed_delta_parse (fx->signed_delta, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (mu_signed_delta_get_n_signatures (delta), ==, 1);
	g_assert_cmpuint (g_bytes_get_size (mu_signed_delta_get_signature (delta, 0)), ==, 64);

	/* Ed25519 is deterministic: signing again gives the same file. */
	again = sign_with (fx->superblock, &fx->key, 1);
	g_assert_true (g_bytes_equal (again, fx->signed_delta));
}

/* The envelope's layout, written out by hand: t, ay, then a{sv} at an 8-aligned offset,
 * one framing offset (the end of the ay) at the very end. */
static void
test_envelope_layout (Fixture *fx, gconstpointer data)
{
	gsize size;
	const guint8 *p = g_bytes_get_data (fx->signed_delta, &size);
	gsize sb_len = g_bytes_get_size (fx->superblock);
	g_autoptr (MuSignedDelta) delta = mu_signed_delta_parse (fx->signed_delta, NULL);
	GBytes *sig = mu_signed_delta_get_signature (delta, 0);
	gsize dict_start = (8 + sb_len + 7) & ~(gsize) 7;
	static const gchar key[] = MU_SIGN_ED25519_KEY;

	g_assert_cmpuint (size, <, 256); /* one-byte framing offsets */
	g_assert_cmpmem (p + 8, sb_len, g_bytes_get_data (fx->superblock, NULL), sb_len);
	g_assert_cmpuint (p[size - 1], ==, 8 + sb_len);
	/* a{sv} with one entry: "ostree.sign.ed25519\0", padding, variant <aay>. */
	g_assert_cmpmem (p + dict_start, sizeof key, key, sizeof key);
	g_assert_cmpmem (p + dict_start + 24, 64, g_bytes_get_data (sig, NULL), 64);
}

static void
test_unsigned_superblock (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);

	assert_refused (fx->superblock, keyring, MU_ERROR_UNSIGNED);
}

static GBytes *
make_envelope (GBytes *superblock, GVariant *meta)
{
	g_autoptr (GVariant) v = g_variant_ref_sink (
		g_variant_new ("(t@ay@a{sv})", GUINT64_TO_BE (MU_SIGNED_DELTA_MAGIC),
			       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, superblock,
							 TRUE),
			       meta));

	return g_variant_get_data_as_bytes (v);
}

static void
test_envelope_without_signatures (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (GBytes) no_key = make_envelope (fx->superblock,
						   g_variant_new_parsed ("@a{sv} {}"));
	g_autoptr (GBytes) empty_list =
		make_envelope (fx->superblock,
			       g_variant_new_parsed ("{'ostree.sign.ed25519': <@aay []>}"));

	assert_refused (no_key, keyring, MU_ERROR_UNSIGNED);
	assert_refused (empty_list, keyring, MU_ERROR_UNSIGNED);
}

static void
test_wrong_signature_type (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (GBytes) as = make_envelope (fx->superblock,
					       g_variant_new_parsed (
						       "{'ostree.sign.ed25519': <['abc']>}"));

	assert_refused (as, keyring, MU_ERROR_CORRUPT_DELTA);
}

static void
test_short_signature (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (MuSignedDelta) delta = mu_signed_delta_parse (fx->signed_delta, NULL);
	GBytes *sig = mu_signed_delta_get_signature (delta, 0);
	g_autoptr (GBytes) short_sig = g_bytes_new_from_bytes (sig, 0, 63);
	GVariantBuilder sigs;
	GVariantBuilder meta;
	g_autoptr (GBytes) envelope = NULL;

	g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
	g_variant_builder_add_value (&sigs, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
								      short_sig, TRUE));
	g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add (&meta, "{sv}", MU_SIGN_ED25519_KEY, g_variant_builder_end (&sigs));
	envelope = make_envelope (fx->superblock, g_variant_builder_end (&meta));
	assert_refused (envelope, keyring, MU_ERROR_CORRUPT_DELTA);
}

/* An envelope with one signature too many is refused before any verification. */
static void
test_too_many_signatures (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (MuSignedDelta) delta = mu_signed_delta_parse (fx->signed_delta, NULL);
	GBytes *sig = mu_signed_delta_get_signature (delta, 0);
	GVariantBuilder sigs;
	GVariantBuilder meta;
	g_autoptr (GBytes) envelope = NULL;

	g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
	for (guint i = 0; i < MU_SIGNED_DELTA_MAX_SIGNATURES + 1; i++)
		g_variant_builder_add_value (&sigs,
					     g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
								       sig, TRUE));
	g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add (&meta, "{sv}", MU_SIGN_ED25519_KEY, g_variant_builder_end (&sigs));
	envelope = make_envelope (fx->superblock, g_variant_builder_end (&meta));
	assert_refused (envelope, keyring, MU_ERROR_CORRUPT_DELTA);
}

static void
test_garbage (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (GBytes) garbage = sign_test_bytes ("this is not a delta at all\n");
	g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);

	assert_refused (garbage, keyring, MU_ERROR_CORRUPT_DELTA);
	assert_refused (empty, keyring, MU_ERROR_CORRUPT_DELTA);
}

static void
test_truncated_envelope (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	gsize size = g_bytes_get_size (fx->signed_delta);
	gsize cuts[] = { size - 1, size - 40, size / 2, 9, 8 };

	for (guint i = 0; i < G_N_ELEMENTS (cuts); i++) {
		g_autoptr (GBytes) truncated = g_bytes_new_from_bytes (fx->signed_delta, 0,
								       cuts[i]);

		assert_refused (truncated, keyring, MU_ERROR_CORRUPT_DELTA);
	}
}

static void
test_wrong_key (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->other, 1);

	assert_refused (fx->signed_delta, keyring, MU_ERROR_SIGNATURE_INVALID);
}

static void
test_flipped_superblock_byte (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	gsize offset = 8 + g_bytes_get_size (fx->superblock) / 2;
	g_autoptr (GBytes) tampered = flip_byte (fx->signed_delta, offset);

	assert_refused (tampered, keyring, MU_ERROR_SIGNATURE_INVALID);
}

static void
test_flipped_signature_byte (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	g_autoptr (MuSignedDelta) delta = mu_signed_delta_parse (fx->signed_delta, NULL);
	GBytes *sig = mu_signed_delta_get_signature (delta, 0);
	const guint8 *start = g_bytes_get_data (fx->signed_delta, NULL);
	const guint8 *at = g_bytes_get_data (sig, NULL);
	g_autoptr (GBytes) tampered = NULL;

	/* The signature is a view into the envelope's own bytes. */
	g_assert_true (at > start && at < start + g_bytes_get_size (fx->signed_delta));
	tampered = flip_byte (fx->signed_delta, (gsize) (at - start) + 10);
	assert_refused (tampered, keyring, MU_ERROR_SIGNATURE_INVALID);
}

/* Whatever single byte of the envelope changes, it is refused (and nothing crashes). */
static void
test_every_byte_flip (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
	gsize size = g_bytes_get_size (fx->signed_delta);

	for (gsize offset = 0; offset < size; offset++) {
		g_autoptr (GError) error = NULL;
		g_autoptr (GBytes) tampered = flip_byte (fx->signed_delta, offset);

		g_assert_false (
			mu_signed_delta_verify_bytes (tampered, keyring, NULL, NULL, &error));
		g_assert_nonnull (error);
		g_assert_true (error->domain == MU_ERROR);
		g_assert_true (error->code == MU_ERROR_CORRUPT_DELTA ||
			       error->code == MU_ERROR_SIGNATURE_INVALID ||
			       error->code == MU_ERROR_UNSIGNED);
	}
}

static void
test_revoked_key (Fixture *fx, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKeyring) keyring = keyring_trusting ((MuEd25519SecretKey *[]){ fx->other,
										    fx->key },
							  2);
	g_autoptr (MuKeyring) revoked_only = keyring_trusting (&fx->other, 1);
	g_autoptr (MuKeyring) all_revoked = keyring_trusting (&fx->key, 1);

	/* Trusted and revoked: revoked wins. */
	mu_keyring_add_revoked_key (keyring, mu_ed25519_secret_key_get_public (fx->key));
	assert_refused (fx->signed_delta, keyring, MU_ERROR_KEY_REVOKED);

	/* Revoked without being in the trusted set still says "revoked". */
	mu_keyring_add_revoked_key (revoked_only, mu_ed25519_secret_key_get_public (fx->key));
	assert_refused (fx->signed_delta, revoked_only, MU_ERROR_KEY_REVOKED);

	/* The only trusted key is revoked and signed: the revocation is what to report. */
	mu_keyring_add_revoked_key (all_revoked, mu_ed25519_secret_key_get_public (fx->key));
	g_assert_false (
		mu_signed_delta_verify_bytes (fx->signed_delta, all_revoked, NULL, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_KEY_REVOKED);
	g_assert_nonnull (
		strstr (error->message,
			mu_ed25519_key_get_id (mu_ed25519_secret_key_get_public (fx->key))));
}

static void
test_no_trusted_keys (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuKeyring) empty = mu_keyring_new ();
	g_autoptr (MuKeyring) all_revoked = keyring_trusting (&fx->other, 1);

	assert_refused (fx->signed_delta, empty, MU_ERROR_NO_TRUSTED_KEYS);
	mu_keyring_add_revoked_key (all_revoked, mu_ed25519_secret_key_get_public (fx->other));
	assert_refused (fx->signed_delta, all_revoked, MU_ERROR_NO_TRUSTED_KEYS);
}

static void
test_two_signatures_one_valid (Fixture *fx, gconstpointer data)
{
	g_autoptr (MuEd25519SecretKey) third = mu_ed25519_secret_key_generate (NULL);
	MuEd25519SecretKey *orders[2][2] = { { fx->other, fx->key }, { fx->key, fx->other } };

	for (guint i = 0; i < G_N_ELEMENTS (orders); i++) {
		g_autoptr (GError) error = NULL;
		g_autoptr (GBytes) two = sign_with (fx->superblock, orders[i], 2);
		g_autoptr (MuKeyring) keyring = keyring_trusting (&fx->key, 1);
		g_autoptr (MuKeyring) wrong = keyring_trusting (&third, 1);
		g_autoptr (MuKeyring) revoked = keyring_trusting (orders[i], 2);
		g_autoptr (MuEd25519Key) key = NULL;
		g_autoptr (MuSignedDelta) delta = mu_signed_delta_parse (two, &error);

		g_assert_no_error (error);
		g_assert_cmpuint (mu_signed_delta_get_n_signatures (delta), ==, 2);
		g_assert_true (mu_signed_delta_verify (delta, keyring, &key, &error));
		g_assert_no_error (error);
		g_assert_true (
			mu_ed25519_key_equal (key, mu_ed25519_secret_key_get_public (fx->key)));
		assert_refused (two, wrong, MU_ERROR_SIGNATURE_INVALID);

		/* A signature by a revoked key is skipped when another one verifies. */
		mu_keyring_add_revoked_key (revoked, mu_ed25519_secret_key_get_public (fx->other));
		g_clear_pointer (&key, mu_ed25519_key_unref);
		g_assert_true (mu_signed_delta_verify (delta, revoked, &key, &error));
		g_assert_no_error (error);
		g_assert_true (
			mu_ed25519_key_equal (key, mu_ed25519_secret_key_get_public (fx->key)));
	}
}

static void
test_sign_refusals (Fixture *fx, gconstpointer data)
{
	g_autoptr (GError) e1 = NULL;
	g_autoptr (GError) e2 = NULL;
	g_autoptr (GError) e3 = NULL;
	g_autoptr (GError) e4 = NULL;
	g_autoptr (GBytes) garbage = sign_test_bytes ("not a superblock");
	MuEd25519SecretKey *twice[] = { fx->key, fx->key };

	g_assert_null (mu_signed_delta_sign (fx->signed_delta, &fx->key, 1, &e1));
	g_assert_error (e1, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_assert_null (mu_signed_delta_sign (garbage, &fx->key, 1, &e2));
	g_assert_error (e2, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_assert_null (mu_signed_delta_sign (fx->superblock, twice, 2, &e3));
	g_assert_error (e3, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_assert_null (mu_signed_delta_sign (fx->superblock, NULL, 0, &e4));
	g_assert_error (e4, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
}

/* A well-formed superblock whose metadata carries @pad_size bytes of padding: as large as
 * a hostile bundle likes. */
static GBytes *
make_big_superblock (GBytes *small, gsize pad_size)
{
	g_autoptr (GVariant) v = g_variant_ref_sink (
		g_variant_new_from_bytes (G_VARIANT_TYPE (MU_SUPERBLOCK_FORMAT), small, FALSE));
	g_autofree guint8 *pad = g_malloc (pad_size);
	GVariant *children[8];
	GVariantBuilder meta;
	g_autoptr (GVariant) big = NULL;

	for (gsize i = 0; i < pad_size; i++)
		pad[i] = (guint8) (i * 7);
	g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add (&meta, "{sv}", "pad",
			       g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, pad, pad_size, 1));
	children[0] = g_variant_builder_end (&meta);
	for (guint i = 1; i < 8; i++)
		children[i] = g_variant_get_child_value (v, i);
	big = g_variant_ref_sink (g_variant_new_tuple (children, 8));
	for (guint i = 1; i < 8; i++)
		g_variant_unref (children[i]);
	return g_variant_get_data_as_bytes (big);
}

static GPtrArray *
make_keys (guint n)
{
	GPtrArray *keys = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_ed25519_secret_key_free);

	for (guint i = 0; i < n; i++) {
		g_autoptr (GError) error = NULL;

		g_ptr_array_add (keys, mu_ed25519_secret_key_generate (&error));
		g_assert_no_error (error);
	}
	return keys;
}

/* Trusts every key of @trusted and @revoked, and revokes those of @revoked. */
static MuKeyring *
keyring_with (GPtrArray *trusted, GPtrArray *revoked)
{
	MuKeyring *keyring = keyring_trusting ((MuEd25519SecretKey **) trusted->pdata,
					       trusted->len);

	for (guint i = 0; i < revoked->len; i++) {
		MuEd25519Key *pub = mu_ed25519_secret_key_get_public (revoked->pdata[i]);

		mu_keyring_add_trusted_key (keyring, pub);
		mu_keyring_add_revoked_key (keyring, pub);
	}
	return keyring;
}

/*
 * An envelope of tens of MiB with 16 real signatures by unknown keys, against 16 trusted
 * and 16 revoked keys: refused for its size before any signature is checked, at once
 * (checking all would hash 16 x 32 x 24 MiB).
 */
static void
test_huge_envelope (Fixture *fx, gconstpointer data)
{
	g_autoptr (GBytes) sb = make_big_superblock (fx->superblock, 24 * 1024 * 1024);
	g_autoptr (GPtrArray) signers = make_keys (16);
	g_autoptr (GPtrArray) trusted = make_keys (16);
	g_autoptr (GPtrArray) revoked = make_keys (16);
	g_autoptr (MuKeyring) keyring = keyring_with (trusted, revoked);
	g_autoptr (GBytes) envelope = NULL;
	g_autoptr (GError) error = NULL;
	GVariantBuilder sigs;
	GVariantBuilder meta;
	gint64 start;
	gdouble seconds;

	g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
	for (guint i = 0; i < signers->len; i++) {
		g_autoptr (GBytes) sig = mu_ed25519_secret_key_sign (signers->pdata[i], sb, &error);

		g_assert_no_error (error);
		g_variant_builder_add_value (&sigs,
					     g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
								       sig, TRUE));
	}
	g_variant_builder_init (&meta, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add (&meta, "{sv}", MU_SIGN_ED25519_KEY, g_variant_builder_end (&sigs));
	envelope = make_envelope (sb, g_variant_builder_end (&meta));
	g_assert_cmpuint (g_bytes_get_size (envelope), >, 3 * MU_SIGNED_DELTA_MAX_SIZE);

	start = g_get_monotonic_time ();
	g_assert_false (mu_signed_delta_verify_bytes (envelope, keyring, NULL, NULL, &error));
	seconds = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_test_message ("%" G_GSIZE_FORMAT " bytes refused in %.3f s: %s",
			g_bytes_get_size (envelope), seconds, error->message);
	g_assert_cmpfloat (seconds, <, 2.0);
}

/*
 * The worst a bundle can make the device check: an envelope just within the size bound
 * with the most signatures accepted, all by unknown keys, against 8 trusted and 8 revoked
 * keys: refused as SignatureInvalid after MAX_SIGNATURES x 16 checks, in bounded time.
 */
static void
test_envelope_at_bound (Fixture *fx, gconstpointer data)
{
	g_autoptr (GPtrArray) signers = make_keys (MU_SIGNED_DELTA_MAX_SIGNATURES);
	g_autoptr (GPtrArray) trusted = make_keys (8);
	g_autoptr (GPtrArray) revoked = make_keys (8);
	g_autoptr (MuKeyring) keyring = keyring_with (trusted, revoked);
	g_autoptr (GBytes) sb = make_big_superblock (fx->superblock,
						     MU_SIGNED_DELTA_MAX_SIZE - 4096);
	g_autoptr (GBytes) envelope = sign_with (sb, (MuEd25519SecretKey **) signers->pdata,
						 signers->len);
	g_autoptr (GBytes) bigger = make_big_superblock (fx->superblock, MU_SIGNED_DELTA_MAX_SIZE);
	g_autoptr (GError) error = NULL;
	g_autoptr (GError) sign_error = NULL;
	gint64 start;
	gdouble seconds;

	g_assert_cmpuint (g_bytes_get_size (envelope), <=, MU_SIGNED_DELTA_MAX_SIZE);
	start = g_get_monotonic_time ();
	g_assert_false (mu_signed_delta_verify_bytes (envelope, keyring, NULL, NULL, &error));
	seconds = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
	g_assert_error (error, MU_ERROR, MU_ERROR_SIGNATURE_INVALID);
	g_test_message ("%" G_GSIZE_FORMAT " bytes, %u signatures, 16 keys: refused in %.3f s",
			g_bytes_get_size (envelope), signers->len, seconds);
	g_assert_cmpfloat (seconds, <, 20.0);

	/* What a device refuses, the signing tool does not make. */
	g_assert_null (mu_signed_delta_sign (bigger, (MuEd25519SecretKey **) signers->pdata, 1,
					     &sign_error));
	g_assert_error (sign_error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
}

#define ADD(path, func)                                                                            \
	g_test_add ("/signed-delta/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	ADD ("roundtrip", test_roundtrip);
	ADD ("envelope-layout", test_envelope_layout);
	ADD ("unsigned-superblock", test_unsigned_superblock);
	ADD ("envelope-without-signatures", test_envelope_without_signatures);
	ADD ("wrong-signature-type", test_wrong_signature_type);
	ADD ("short-signature", test_short_signature);
	ADD ("too-many-signatures", test_too_many_signatures);
	ADD ("garbage", test_garbage);
	ADD ("truncated-envelope", test_truncated_envelope);
	ADD ("wrong-key", test_wrong_key);
	ADD ("flipped-superblock-byte", test_flipped_superblock_byte);
	ADD ("flipped-signature-byte", test_flipped_signature_byte);
	ADD ("every-byte-flip", test_every_byte_flip);
	ADD ("revoked-key", test_revoked_key);
	ADD ("no-trusted-keys", test_no_trusted_keys);
	ADD ("two-signatures-one-valid", test_two_signatures_one_valid);
	ADD ("sign-refusals", test_sign_refusals);
	ADD ("huge-envelope", test_huge_envelope);
	ADD ("envelope-at-bound", test_envelope_at_bound);
	return g_test_run ();
}
