/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mu-error.h"
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

/* @len bytes (whole sectors) from @in to @out, the first being sector @first_sector. */
static gboolean
xts_sectors (EVP_CIPHER_CTX *ctx, gboolean encrypt, guint64 first_sector, const guint8 *in,
	     guint8 *out, gsize len, GError **error)
{
	for (gsize off = 0; off < len; off += MU_TOOL_SECTOR_SIZE) {
		guint8 iv[16] = { 0 };
		guint64 tweak = GUINT64_TO_LE ((first_sector + off / MU_TOOL_SECTOR_SIZE) *
					       (MU_TOOL_SECTOR_SIZE / 512));
		int n = 0;

		memcpy (iv, &tweak, sizeof tweak);
		if (EVP_CipherInit_ex (ctx, NULL, NULL, NULL, iv, encrypt) != 1 ||
		    EVP_CipherUpdate (ctx, out + off, &n, in + off, MU_TOOL_SECTOR_SIZE) != 1 ||
		    n != MU_TOOL_SECTOR_SIZE) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "aes-xts failed (OpenSSL)");
			return FALSE;
		}
	}
	return TRUE;
}

static EVP_CIPHER_CTX *
xts_new (const MuSecret *volume_key, gboolean encrypt, GError **error)
{
	g_autoptr (EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();

	if (volume_key->len != MU_TOOL_XTS_KEY_LEN || ctx == NULL ||
	    EVP_CipherInit_ex (ctx, EVP_aes_256_xts (), NULL, volume_key->data, NULL, encrypt) !=
		    1) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot set up aes-256-xts with a %" G_GSIZE_FORMAT
			     "-byte key (OpenSSL)",
			     volume_key->len);
		return NULL;
	}
	return g_steal_pointer (&ctx);
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
		       const MuSecret *volume_key, GBytes *salt, GBytes **ret_root, GError **error)
{
	g_autoptr (EVP_CIPHER_CTX) ctx = NULL;
	g_autofree guint8 *plain = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autofree guint8 *cipher = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autoptr (GByteArray) leaves = g_byte_array_new ();
	g_autoptr (GByteArray) tree = NULL;
	guint8 root[HASH_LEN];

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!check_sizes (image_size, error))
		return FALSE;
	ctx = xts_new (volume_key, TRUE, error);
	if (ctx == NULL)
		return FALSE;
	for (guint64 pos = 0; pos < image_size;) {
		gsize len = (gsize) MIN ((guint64) CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE,
					 image_size - pos);

		if (!mu_tool_pread_all (image_fd, plain, len, pos, error) ||
		    !xts_sectors (ctx, TRUE, pos / MU_TOOL_SECTOR_SIZE, plain, cipher, len,
				  error) ||
		    !mu_tool_pwrite_all (out_fd, cipher, len, data_offset + pos, error)) {
			g_prefix_error (error, "encrypting the image: ");
			return FALSE;
		}
		for (gsize off = 0; off < len; off += MU_TOOL_SECTOR_SIZE) {
			guint8 digest[HASH_LEN];

			hash_block (salt, cipher + off, digest);
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
mu_tool_check_image (int fd, guint64 data_offset, guint64 data_size, const MuSecret *volume_key,
		     GBytes *salt, GBytes *root, int image_fd, GError **error)
{
	g_autoptr (EVP_CIPHER_CTX) ctx = NULL;
	g_autofree guint8 *plain = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autofree guint8 *expected = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autofree guint8 *cipher = g_malloc (CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE);
	g_autoptr (GByteArray) leaves = g_byte_array_new ();
	g_autoptr (GByteArray) tree = NULL;
	g_autofree guint8 *stored = NULL;
	guint8 computed_root[HASH_LEN];

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!check_sizes (data_size, error))
		return FALSE;
	if (image_fd >= 0) {
		ctx = xts_new (volume_key, FALSE, error);
		if (ctx == NULL)
			return FALSE;
	}
	for (guint64 pos = 0; pos < data_size;) {
		gsize len = (gsize) MIN ((guint64) CHUNK_SECTORS * MU_TOOL_SECTOR_SIZE,
					 data_size - pos);

		if (!mu_tool_pread_all (fd, cipher, len, data_offset + pos, error))
			return FALSE;
		for (gsize off = 0; off < len; off += MU_TOOL_SECTOR_SIZE) {
			guint8 digest[HASH_LEN];

			hash_block (salt, cipher + off, digest);
			g_byte_array_append (leaves, digest, sizeof digest);
		}
		if (image_fd >= 0) {
			if (!xts_sectors (ctx, FALSE, pos / MU_TOOL_SECTOR_SIZE, cipher, plain, len,
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
