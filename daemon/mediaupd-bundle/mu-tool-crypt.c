/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mu-error.h"
#include "mu-tool-adiantum.h"
#include "mu-tool-crypt.h"
#include "mu-tool.h"

#define HASH_LEN 32
#define HASHES_PER_BLOCK (MU_TOOL_SECTOR_SIZE / HASH_LEN)
/* Sectors read, encrypted and written at a time. */
#define CHUNK_SECTORS 256

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

static guint64
div_round_up (guint64 n, guint64 d)
{
	return (n + d - 1) / d;
}

guint64
mu_tool_verity_tree_size (guint64 data_size)
{
	guint64 blocks = data_size / MU_TOOL_SECTOR_SIZE;
	guint64 total = 0;

	/* Each level hashes the one below, until one block holds them all. */
	do {
		blocks = div_round_up (blocks, HASHES_PER_BLOCK);
		total += blocks;
	} while (blocks > 1);
	return total * MU_TOOL_SECTOR_SIZE;
}

/* sha256 (salt || block) */
static void
hash_block (GBytes *salt, const guint8 *block, guint8 *out)
{
	g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
	gsize len = HASH_LEN;

	g_checksum_update (checksum, g_bytes_get_data (salt, NULL), g_bytes_get_size (salt));
	g_checksum_update (checksum, block, MU_TOOL_SECTOR_SIZE);
	g_checksum_get_digest (checksum, out, &len);
}

/*
 * The tree above the level-0 hashes @leaves (one per data block): every level as
 * zero-padded hash blocks, top first; the root hash in @root.
 */
static GByteArray *
build_tree (GByteArray *leaves, GBytes *salt, guint8 *root)
{
	g_autoptr (GPtrArray) levels = g_ptr_array_new_with_free_func (
		(GDestroyNotify) g_byte_array_unref);
	g_autoptr (GByteArray) hashes = g_byte_array_ref (leaves);
	GByteArray *tree = g_byte_array_new ();

	for (;;) {
		guint64 n_blocks = div_round_up (hashes->len / HASH_LEN, HASHES_PER_BLOCK);
		g_autoptr (GByteArray) level = g_byte_array_new ();
		g_autoptr (GByteArray) above = g_byte_array_new ();

		g_byte_array_set_size (level, (guint) (n_blocks * MU_TOOL_SECTOR_SIZE));
		memset (level->data, 0, level->len);
		memcpy (level->data, hashes->data, hashes->len);
		for (guint64 b = 0; b < n_blocks; b++) {
			guint8 digest[HASH_LEN];

			hash_block (salt, level->data + b * MU_TOOL_SECTOR_SIZE, digest);
			g_byte_array_append (above, digest, sizeof digest);
		}
		g_ptr_array_add (levels, g_steal_pointer (&level));
		if (n_blocks == 1) {
			memcpy (root, above->data, HASH_LEN);
			break;
		}
		g_byte_array_unref (hashes);
		hashes = g_steal_pointer (&above);
	}
	for (guint i = levels->len; i > 0; i--) {
		GByteArray *level = g_ptr_array_index (levels, i - 1);

		g_byte_array_append (tree, level->data, level->len);
	}
	return tree;
}

static const MuToolCipher ciphers[] = {
	{ "aes-xts-plain64", "aes-xts-plain64", "aes", "xts-plain64", MU_TOOL_XTS_KEY_LEN, FALSE },
	{ "adiantum", "xchacha12,aes-adiantum-plain64", "xchacha12,aes", "adiantum-plain64",
	  MU_TOOL_ADIANTUM_KEY_LEN, TRUE },
};

const MuToolCipher *
mu_tool_cipher_lookup (const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS (ciphers); i++) {
		if (g_strcmp0 (name, ciphers[i].name) == 0 ||
		    g_strcmp0 (name, ciphers[i].spec) == 0)
			return &ciphers[i];
	}
	return NULL;
}

const MuToolCipher *
mu_tool_cipher_default (void)
{
	return &ciphers[0];
}

/* One direction of the data cipher, keyed. */
typedef struct {
	gboolean encrypt;
	EVP_CIPHER_CTX *xts;
	MuToolAdiantum *adiantum;
} Sectors;

static void
sectors_free (Sectors *s)
{
	EVP_CIPHER_CTX_free (s->xts);
	mu_tool_adiantum_free (s->adiantum);
	g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sectors, sectors_free)

static Sectors *
sectors_new (const MuToolCipher *cipher, const MuSecret *volume_key, gboolean encrypt,
	     GError **error)
{
	g_autoptr (Sectors) s = g_new0 (Sectors, 1);

	s->encrypt = encrypt;
	if (volume_key->len != cipher->key_len) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "%s takes a %" G_GSIZE_FORMAT "-byte key, not %" G_GSIZE_FORMAT,
			     cipher->spec, cipher->key_len, volume_key->len);
		return NULL;
	}
	if (cipher->adiantum) {
		s->adiantum = mu_tool_adiantum_new (volume_key->data, volume_key->len, error);
		return s->adiantum != NULL ? g_steal_pointer (&s) : NULL;
	}
	s->xts = EVP_CIPHER_CTX_new ();
	if (s->xts == NULL || EVP_CipherInit_ex (s->xts, EVP_aes_256_xts (), NULL, volume_key->data,
						 NULL, encrypt) != 1) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot set up aes-256-xts with a %" G_GSIZE_FORMAT
			     "-byte key (OpenSSL)",
			     volume_key->len);
		return NULL;
	}
	return g_steal_pointer (&s);
}

/* @len bytes (whole sectors) from @in to @out, the first being sector @first_sector. */
static gboolean
sectors_crypt (Sectors *s, guint64 first_sector, const guint8 *in, guint8 *out, gsize len,
	       GError **error)
{
	for (gsize off = 0; off < len; off += MU_TOOL_SECTOR_SIZE) {
		/* plain64: the sector in 512-byte units, little endian, zero-padded. */
		guint8 iv[MU_TOOL_ADIANTUM_TWEAK_LEN] = { 0 };
		guint64 number = GUINT64_TO_LE ((first_sector + off / MU_TOOL_SECTOR_SIZE) *
						(MU_TOOL_SECTOR_SIZE / 512));
		int n = 0;

		memcpy (iv, &number, sizeof number);
		if (s->adiantum != NULL) {
			if (!mu_tool_adiantum_crypt (s->adiantum, s->encrypt, iv, in + off,
						     out + off, MU_TOOL_SECTOR_SIZE, error))
				return FALSE;
			continue;
		}
		if (EVP_CipherInit_ex (s->xts, NULL, NULL, NULL, iv, s->encrypt) != 1 ||
		    EVP_CipherUpdate (s->xts, out + off, &n, in + off, MU_TOOL_SECTOR_SIZE) != 1 ||
		    n != MU_TOOL_SECTOR_SIZE) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "aes-xts failed (OpenSSL)");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
check_sizes (guint64 data_size, GError **error)
{
	if (data_size % MU_TOOL_SECTOR_SIZE != 0 || data_size < 2 * MU_TOOL_SECTOR_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "the image is %" G_GUINT64_FORMAT " bytes, not at least two whole "
			     "4096-byte sectors",
			     data_size);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_tool_encrypt_image (int image_fd, guint64 image_size, int out_fd, guint64 data_offset,
		       const MuToolCipher *cipher, const MuSecret *volume_key, GBytes *salt,
		       GBytes **ret_root, GError **error)
{
	g_autoptr (Sectors) ctx = NULL;
	g_autofree guint8 *plain = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autofree guint8 *ciphertext = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autoptr (GByteArray) leaves = g_byte_array_new ();
	g_autoptr (GByteArray) tree = NULL;
	guint8 root[HASH_LEN];

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!check_sizes (image_size, error))
		return FALSE;
	ctx = sectors_new (cipher, volume_key, TRUE, error);
	if (ctx == NULL)
		return FALSE;
	for (guint64 pos = 0; pos < image_size;) {
		gsize len = (gsize) MIN ((guint64) CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE,
					 image_size - pos);

		if (!mu_tool_pread_all (image_fd, plain, len, pos, error) ||
		    !sectors_crypt (ctx, pos / MU_TOOL_SECTOR_SIZE, plain, ciphertext, len,
				    error) ||
		    !mu_tool_pwrite_all (out_fd, ciphertext, len, data_offset + pos, error)) {
			g_prefix_error (error, "encrypting the image: ");
			return FALSE;
		}
		for (gsize off = 0; off < len; off += MU_TOOL_SECTOR_SIZE) {
			guint8 digest[HASH_LEN];

			hash_block (salt, ciphertext + off, digest);
			g_byte_array_append (leaves, digest, sizeof digest);
		}
		pos += len;
	}
	tree = build_tree (leaves, salt, root);
	g_assert (tree->len == mu_tool_verity_tree_size (image_size));
	if (!mu_tool_pwrite_all (out_fd, tree->data, tree->len, data_offset + image_size, error)) {
		g_prefix_error (error, "writing the hash tree: ");
		return FALSE;
	}
	*ret_root = g_bytes_new (root, sizeof root);
	return TRUE;
}

gboolean
mu_tool_check_image (int fd, guint64 data_offset, guint64 data_size, const MuToolCipher *cipher,
		     const MuSecret *volume_key, GBytes *salt, GBytes *root, int image_fd,
		     GError **error)
{
	g_autoptr (Sectors) ctx = NULL;
	g_autofree guint8 *plain = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autofree guint8 *expected = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autofree guint8 *ciphertext = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autoptr (GByteArray) leaves = g_byte_array_new ();
	g_autoptr (GByteArray) tree = NULL;
	g_autofree guint8 *stored = NULL;
	guint8 computed_root[HASH_LEN];

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!check_sizes (data_size, error))
		return FALSE;
	if (image_fd >= 0) {
		ctx = sectors_new (cipher, volume_key, FALSE, error);
		if (ctx == NULL)
			return FALSE;
	}
	for (guint64 pos = 0; pos < data_size;) {
		gsize len = (gsize) MIN ((guint64) CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE,
					 data_size - pos);

		if (!mu_tool_pread_all (fd, ciphertext, len, data_offset + pos, error))
			return FALSE;
		for (gsize off = 0; off < len; off += MU_TOOL_SECTOR_SIZE) {
			guint8 digest[HASH_LEN];

			hash_block (salt, ciphertext + off, digest);
			g_byte_array_append (leaves, digest, sizeof digest);
		}
		if (image_fd >= 0) {
			if (!sectors_crypt (ctx, pos / MU_TOOL_SECTOR_SIZE, ciphertext, plain, len,
					    error) ||
			    !mu_tool_pread_all (image_fd, expected, len, pos, error))
				return FALSE;
			if (memcmp (plain, expected, len) != 0) {
				g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
					     "the data decrypted from sectors %" G_GUINT64_FORMAT
					     "..%" G_GUINT64_FORMAT " differ from the image",
					     pos / MU_TOOL_SECTOR_SIZE,
					     (pos + len) / MU_TOOL_SECTOR_SIZE - 1);
				return FALSE;
			}
		}
		pos += len;
	}
	tree = build_tree (leaves, salt, computed_root);
	stored = g_malloc (tree->len);
	if (!mu_tool_pread_all (fd, stored, tree->len, data_offset + data_size, error)) {
		g_prefix_error (error, "reading the hash tree: ");
		return FALSE;
	}
	if (memcmp (stored, tree->data, tree->len) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the stored hash tree is not the one of the ciphertext");
		return FALSE;
	}
	if (g_bytes_get_size (root) != HASH_LEN ||
	    memcmp (g_bytes_get_data (root, NULL), computed_root, HASH_LEN) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "the ciphertext's verity root hash is not the expected one");
		return FALSE;
	}
	return TRUE;
}
