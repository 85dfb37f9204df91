/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Adiantum with XChaCha12 and AES-256, the kernel's "adiantum(xchacha12,aes)" (Crowley and
 * Biggers, "Adiantum: length-preserving encryption for entry-level processors", 2018), in
 * userspace, because OpenSSL has none and the bundle maker may use neither device-mapper
 * nor the kernel's crypto API:
 *
 *   K_S = 32-byte key; K_E (AES-256) || K_T (Poly1305, 16) || K_L (Poly1305, 16) || K_N (NH,
 *   1072) = the first 1136 bytes of XChaCha12 (K_S, nonce 1 || 0...)
 *   H (T, L) = Poly1305 (K_T, bits (|L|) as 128 bits || T) + NHPoly1305 (K_L, K_N, L)
 *   encrypt P = P_L || P_R (P_R its last 16 bytes):
 *     P_M = P_R + H (T, P_L);  C_M = AES-256 (K_E, P_M)
 *     C_L = P_L ^ XChaCha12 (K_S, nonce C_M || 1 || 0...);  C_R = C_M - H (T, C_L)
 *
 * with + and - modulo 2^128 on little-endian numbers and Poly1305 without its final
 * addition. dm-crypt's "xchacha12,aes-adiantum-plain64" uses it per sector with the
 * 32-byte tweak T = the little-endian 64-bit sector number (in 512-byte units), zero-padded.
 */

#define MU_TOOL_ADIANTUM_KEY_LEN 32
#define MU_TOOL_ADIANTUM_TWEAK_LEN 32
#define MU_TOOL_ADIANTUM_MIN_LEN 16

typedef struct _MuToolAdiantum MuToolAdiantum;

/* The keyed cipher (the derived keys in locked memory); MU_ERROR_FAILED if @key_len is not
 * MU_TOOL_ADIANTUM_KEY_LEN or OpenSSL has no AES-256 or Poly1305. */
MuToolAdiantum *mu_tool_adiantum_new (const guint8 *key, gsize key_len,
				      GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Wipes the keys. NULL is allowed. */
void mu_tool_adiantum_free (MuToolAdiantum *adiantum);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuToolAdiantum, mu_tool_adiantum_free)

/* Encrypts (or, with @encrypt FALSE, decrypts) the @len bytes (at least 16) of @in into
 * @out, which may be @in, under the tweak @tweak. */
gboolean mu_tool_adiantum_crypt (MuToolAdiantum *adiantum, gboolean encrypt,
				 const guint8 tweak[MU_TOOL_ADIANTUM_TWEAK_LEN], const guint8 *in,
				 guint8 *out, gsize len, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The XChaCha12 keystream (@key 32 bytes, @iv 32 bytes as the kernel's xchacha12 takes it:
 * a 24-byte nonce and the 64-bit block position) XORed into @len bytes of @data. */
void mu_tool_xchacha12_xor (const guint8 key[32], const guint8 iv[32], guint8 *data, gsize len);

G_END_DECLS
