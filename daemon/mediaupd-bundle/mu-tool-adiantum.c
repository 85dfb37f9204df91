/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mu-error.h"
#include "mu-secret.h"
#include "mu-tool-adiantum.h"

#define CHACHA_ROUNDS 12
#define CHACHA_BLOCK 64
#define AES_KEY_LEN 32
#define POLY_KEY_LEN 16
#define NH_UNIT 16                    /* NH takes the message 16 bytes at a time */
#define NH_MESSAGE_BYTES 1024         /* and at most this much per hash value */
#define NH_PASSES 4                   /* four 64-bit sums per hash value */
#define NH_HASH_BYTES (NH_PASSES * 8) /* 32 */
#define NH_KEY_WORDS (NH_MESSAGE_BYTES / 4 + (NH_PASSES - 1) * 4)       /* 268 */
#define DERIVED_LEN (AES_KEY_LEN + 2 * POLY_KEY_LEN + NH_KEY_WORDS * 4) /* 1136 */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MAC, EVP_MAC_free)

/* The keys live in one MuSecret: the stream key, the derived keys, NH's key as words. */
typedef struct {
	guint8 stream_key[MU_TOOL_ADIANTUM_KEY_LEN];
	guint8 header_poly_key[2 * POLY_KEY_LEN]; /* r || 0: Poly1305 without its addition */
	guint8 message_poly_key[2 * POLY_KEY_LEN];
	guint32 nh_key[NH_KEY_WORDS];
} Keys;

struct _MuToolAdiantum {
	MuSecret *secret; /* holds a Keys */
	EVP_CIPHER_CTX *aes_encrypt;
	EVP_CIPHER_CTX *aes_decrypt;
	EVP_MAC_CTX *poly;
};

/* A MuSecret's bytes are pages of their own (mmap), so they are aligned for any type. */
static Keys *
keys_of (MuToolAdiantum *a)
{
	return (Keys *) (void *) a->secret->data;
}

/* ---- XChaCha12 ---- */

static guint32
load_le32 (const guint8 *p)
{
	return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static void
store_le32 (guint8 *p, guint32 v)
{
	p[0] = (guint8) v;
	p[1] = (guint8) (v >> 8);
	p[2] = (guint8) (v >> 16);
	p[3] = (guint8) (v >> 24);
}

static guint32
rotl (guint32 v, int n)
{
	return (v << n) | (v >> (32 - n));
}

static void
quarter_round (guint32 *x, int a, int b, int c, int d)
{
	x[a] += x[b];
	x[d] = rotl (x[d] ^ x[a], 16);
	x[c] += x[d];
	x[b] = rotl (x[b] ^ x[c], 12);
	x[a] += x[b];
	x[d] = rotl (x[d] ^ x[a], 8);
	x[c] += x[d];
	x[b] = rotl (x[b] ^ x[c], 7);
}

static void
chacha_permute (guint32 x[16])
{
	for (int i = 0; i < CHACHA_ROUNDS; i += 2) {
		quarter_round (x, 0, 4, 8, 12);
		quarter_round (x, 1, 5, 9, 13);
		quarter_round (x, 2, 6, 10, 14);
		quarter_round (x, 3, 7, 11, 15);
		quarter_round (x, 0, 5, 10, 15);
		quarter_round (x, 1, 6, 11, 12);
		quarter_round (x, 2, 7, 8, 13);
		quarter_round (x, 3, 4, 9, 14);
	}
}

/* "expand 32-byte k", the key, and the four words @tail. */
static void
chacha_init (guint32 state[16], const guint8 key[32], const guint32 tail[4])
{
	static const guint32 sigma[4] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };

	memcpy (state, sigma, sizeof sigma);
	for (int i = 0; i < 8; i++)
		state[4 + i] = load_le32 (key + 4 * i);
	memcpy (state + 12, tail, 4 * sizeof (guint32));
}

void
mu_tool_xchacha12_xor (const guint8 key[32], const guint8 iv[32], guint8 *data, gsize len)
{
	guint32 state[16];
	guint32 x[16];
	guint32 tail[4];
	guint8 subkey[32];
	guint8 block[CHACHA_BLOCK];

	/* HChaCha12 of the key and the first 16 nonce bytes gives the subkey... */
	for (int i = 0; i < 4; i++)
		tail[i] = load_le32 (iv + 4 * i);
	chacha_init (x, key, tail);
	chacha_permute (x);
	for (int i = 0; i < 4; i++) {
		store_le32 (subkey + 4 * i, x[i]);
		store_le32 (subkey + 16 + 4 * i, x[12 + i]);
	}
	/* ...for ChaCha12 with the block position and the last 8 nonce bytes. */
	tail[0] = load_le32 (iv + 24);
	tail[1] = load_le32 (iv + 28);
	tail[2] = load_le32 (iv + 16);
	tail[3] = load_le32 (iv + 20);
	chacha_init (state, subkey, tail);
	for (gsize off = 0; off < len; off += CHACHA_BLOCK) {
		gsize n = MIN ((gsize) CHACHA_BLOCK, len - off);

		memcpy (x, state, sizeof x);
		chacha_permute (x);
		for (int i = 0; i < 16; i++)
			store_le32 (block + 4 * i, x[i] + state[i]);
		for (gsize i = 0; i < n; i++)
			data[off + i] ^= block[i];
		if (++state[12] == 0)
			state[13]++;
	}
	OPENSSL_cleanse (state, sizeof state);
	OPENSSL_cleanse (x, sizeof x);
	OPENSSL_cleanse (subkey, sizeof subkey);
	OPENSSL_cleanse (block, sizeof block);
}

/* ---- NHPoly1305 and the hash of the tweak ---- */

/* NH of @len bytes (at most NH_MESSAGE_BYTES), the last unit zero-padded. */
static void
nh (const guint32 *key, const guint8 *message, gsize len, guint8 out[NH_HASH_BYTES])
{
	guint64 sums[NH_PASSES] = { 0 };

	for (gsize off = 0; off < len; off += NH_UNIT, key += NH_UNIT / 4) {
		guint8 unit[NH_UNIT] = { 0 };
		guint32 m[4];

		memcpy (unit, message + off, MIN ((gsize) NH_UNIT, len - off));
		for (int i = 0; i < 4; i++)
			m[i] = load_le32 (unit + 4 * i);
		for (int p = 0; p < NH_PASSES; p++) {
			const guint32 *k = key + 4 * p;

			sums[p] += (guint64) (guint32) (m[0] + k[0]) * (guint32) (m[2] + k[2]);
			sums[p] += (guint64) (guint32) (m[1] + k[1]) * (guint32) (m[3] + k[3]);
		}
	}
	for (int p = 0; p < NH_PASSES; p++) {
		guint64 le = GUINT64_TO_LE (sums[p]);

		memcpy (out + 8 * p, &le, sizeof le);
	}
}

/* @r = @r + @d (@add) or @r - @d, as little-endian 128-bit numbers. */
static void
add_sub_128 (guint8 r[16], const guint8 d[16], gboolean add)
{
	guint64 a[2];
	guint64 b[2];
	guint64 lo;

	memcpy (a, r, sizeof a);
	memcpy (b, d, sizeof b);
	for (int i = 0; i < 2; i++) {
		a[i] = GUINT64_FROM_LE (a[i]);
		b[i] = GUINT64_FROM_LE (b[i]);
	}
	if (add) {
		lo = a[0] + b[0];
		a[1] = a[1] + b[1] + (lo < a[0]);
	} else {
		lo = a[0] - b[0];
		a[1] = a[1] - b[1] - (a[0] < b[0]);
	}
	a[0] = GUINT64_TO_LE (lo);
	a[1] = GUINT64_TO_LE (a[1]);
	memcpy (r, a, sizeof a);
}

static gboolean
poly_start (MuToolAdiantum *a, const guint8 *key, GError **error)
{
	if (EVP_MAC_init (a->poly, key, 2 * POLY_KEY_LEN, NULL) != 1) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "Poly1305 failed (OpenSSL)");
		return FALSE;
	}
	return TRUE;
}

static gboolean
poly_finish (MuToolAdiantum *a, guint8 out[16], GError **error)
{
	size_t n = 0;

	if (EVP_MAC_final (a->poly, out, &n, 16) != 1 || n != 16) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "Poly1305 failed (OpenSSL)");
		return FALSE;
	}
	return TRUE;
}

/* out = Poly1305 (K_T, bits (bulk) || T) + NHPoly1305 (K_L, K_N, bulk), mod 2^128. */
static gboolean
hash (MuToolAdiantum *a, const guint8 *tweak, const guint8 *bulk, gsize bulk_len, guint8 out[16],
      GError **error)
{
	const Keys *keys = keys_of (a);
	guint8 header[16] = { 0 };
	guint8 header_hash[16];
	guint64 bits = GUINT64_TO_LE ((guint64) bulk_len * 8);

	memcpy (header, &bits, sizeof bits);
	if (!poly_start (a, keys->header_poly_key, error) ||
	    EVP_MAC_update (a->poly, header, sizeof header) != 1 ||
	    EVP_MAC_update (a->poly, tweak, MU_TOOL_ADIANTUM_TWEAK_LEN) != 1 ||
	    !poly_finish (a, header_hash, error))
		return FALSE;
	if (!poly_start (a, keys->message_poly_key, error))
		return FALSE;
	for (gsize off = 0; off < bulk_len; off += NH_MESSAGE_BYTES) {
		guint8 value[NH_HASH_BYTES];

		nh (keys->nh_key, bulk + off, MIN ((gsize) NH_MESSAGE_BYTES, bulk_len - off),
		    value);
		if (EVP_MAC_update (a->poly, value, sizeof value) != 1) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "Poly1305 failed (OpenSSL)");
			return FALSE;
		}
	}
	if (!poly_finish (a, out, error))
		return FALSE;
	add_sub_128 (out, header_hash, TRUE);
	return TRUE;
}

/* ---- Adiantum ---- */

static gboolean
aes_block (EVP_CIPHER_CTX *ctx, guint8 block[16], GError **error)
{
	guint8 out[16];
	int n = 0;

	if (EVP_CipherUpdate (ctx, out, &n, block, 16) != 1 || n != 16) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "AES-256 failed (OpenSSL)");
		return FALSE;
	}
	memcpy (block, out, 16);
	OPENSSL_cleanse (out, sizeof out);
	return TRUE;
}

static EVP_CIPHER_CTX *
aes_new (const guint8 *key, gboolean encrypt)
{
	g_autoptr (EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();

	if (ctx == NULL ||
	    EVP_CipherInit_ex (ctx, EVP_aes_256_ecb (), NULL, key, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_set_padding (ctx, 0) != 1)
		return NULL;
	return g_steal_pointer (&ctx);
}

MuToolAdiantum *
mu_tool_adiantum_new (const guint8 *key, gsize key_len, GError **error)
{
	g_autoptr (MuToolAdiantum) a = g_new0 (MuToolAdiantum, 1);
	g_autoptr (MuSecret) derived = mu_secret_new (DERIVED_LEN);
	g_autoptr (EVP_MAC) mac = NULL;
	guint8 iv[32] = { 1 };
	const guint8 *p;
	Keys *keys;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (key_len != MU_TOOL_ADIANTUM_KEY_LEN) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "Adiantum takes a %d-byte key, not %" G_GSIZE_FORMAT " bytes",
			     MU_TOOL_ADIANTUM_KEY_LEN, key_len);
		return NULL;
	}
	a->secret = mu_secret_new (sizeof (Keys));
	keys = keys_of (a);
	memcpy (keys->stream_key, key, MU_TOOL_ADIANTUM_KEY_LEN);
	/* The derived keys: XChaCha12's keystream over zeros, nonce 1. */
	mu_tool_xchacha12_xor (key, iv, derived->data, derived->len);
	p = derived->data;
	a->aes_encrypt = aes_new (p, TRUE);
	a->aes_decrypt = aes_new (p, FALSE);
	p += AES_KEY_LEN;
	memcpy (keys->header_poly_key, p, POLY_KEY_LEN);
	p += POLY_KEY_LEN;
	memcpy (keys->message_poly_key, p, POLY_KEY_LEN);
	p += POLY_KEY_LEN;
	for (int i = 0; i < NH_KEY_WORDS; i++)
		keys->nh_key[i] = load_le32 (p + 4 * i);

	mac = EVP_MAC_fetch (NULL, OSSL_MAC_NAME_POLY1305, NULL);
	a->poly = mac != NULL ? EVP_MAC_CTX_new (mac) : NULL;
	if (a->aes_encrypt == NULL || a->aes_decrypt == NULL || a->poly == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot set up Adiantum: OpenSSL has no AES-256 or Poly1305");
		return NULL;
	}
	return g_steal_pointer (&a);
}

void
mu_tool_adiantum_free (MuToolAdiantum *adiantum)
{
	if (adiantum == NULL)
		return;
	EVP_CIPHER_CTX_free (adiantum->aes_encrypt);
	EVP_CIPHER_CTX_free (adiantum->aes_decrypt);
	EVP_MAC_CTX_free (adiantum->poly);
	mu_secret_free (adiantum->secret);
	g_free (adiantum);
}

gboolean
mu_tool_adiantum_crypt (MuToolAdiantum *adiantum, gboolean encrypt,
			const guint8 tweak[MU_TOOL_ADIANTUM_TWEAK_LEN], const guint8 *in,
			guint8 *out, gsize len, GError **error)
{
	const Keys *keys;
	gsize bulk_len;
	guint8 right[16];
	guint8 digest[16];
	guint8 iv[32] = { 0 };

	g_return_val_if_fail (adiantum != NULL && tweak != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (len < MU_TOOL_ADIANTUM_MIN_LEN) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "Adiantum takes at least %d bytes, not %" G_GSIZE_FORMAT,
			     MU_TOOL_ADIANTUM_MIN_LEN, len);
		return FALSE;
	}
	keys = keys_of (adiantum);
	bulk_len = len - 16;
	/* P_M = P_R + H (T, P_L), C_M = E (P_M); decrypting, C_M = C_R + H (T, C_L). */
	memcpy (right, in + bulk_len, 16);
	if (!hash (adiantum, tweak, in, bulk_len, digest, error))
		return FALSE;
	add_sub_128 (right, digest, TRUE);
	if (encrypt && !aes_block (adiantum->aes_encrypt, right, error))
		return FALSE;
	/* The bulk through XChaCha12 with the nonce C_M || 1. */
	memcpy (iv, right, 16);
	iv[16] = 1;
	if (out != in)
		memcpy (out, in, bulk_len);
	mu_tool_xchacha12_xor (keys->stream_key, iv, out, bulk_len);
	/* C_R = C_M - H (T, C_L); decrypting, P_R = D (C_M) - H (T, P_L). */
	if (!encrypt && !aes_block (adiantum->aes_decrypt, right, error))
		return FALSE;
	if (!hash (adiantum, tweak, out, bulk_len, digest, error))
		return FALSE;
	add_sub_128 (right, digest, FALSE);
	memcpy (out + bulk_len, right, 16);
	OPENSSL_cleanse (right, sizeof right);
	OPENSSL_cleanse (iv, sizeof iv);
	return TRUE;
}
