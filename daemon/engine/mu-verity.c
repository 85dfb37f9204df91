/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-verity.h"

#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <linux/dm-ioctl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-luks.h"

gboolean
mu_verity_activate (const gchar *device, const MuSignedHeader *header, const gchar *name,
		    GError **error)
{
	g_autoptr (MuCryptDevice) cd = NULL;
	gsize salt_len = 0;
	gsize root_len = 0;
	const guint8 *salt = g_bytes_get_data (header->verity_salt, &salt_len);
	const guint8 *root = g_bytes_get_data (header->root_hash, &root_len);
	struct crypt_params_verity params = {
		.hash_name = header->verity_hash,
		.data_device = device,
		.salt = (const char *) salt,
		.salt_size = (uint32_t) salt_len,
		.hash_type = 1,
		.data_block_size = header->data_block_size,
		.hash_block_size = header->hash_block_size,
		.data_size = header->data_size / header->data_block_size,
		/* The loop device starts at the data segment: the tree follows it. */
		.hash_area_offset = header->hash_offset - header->data_offset,
		.flags = CRYPT_VERITY_NO_HEADER,
	};
	int r;

	g_return_val_if_fail (device != NULL && header != NULL && name != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	mu_luks_init ();
	r = crypt_init (&cd, device);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "cannot open %s for dm-verity: %s",
			     device, g_strerror (-r));
		return FALSE;
	}
	mu_luks_set_device_logging (cd);
	/* Without a superblock nothing is read or written here: the parameters are the
	 * signed ones, the kernel checks every block it reads against them. */
	r = crypt_format (cd, CRYPT_VERITY, NULL, NULL, NULL, NULL, 0, &params);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot set up dm-verity over %s: %s", device, g_strerror (-r));
		return FALSE;
	}
	r = crypt_activate_by_volume_key (cd, name, (const char *) root, root_len,
					  CRYPT_ACTIVATE_READONLY | CRYPT_ACTIVATE_PRIVATE);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot activate dm-verity mapping %s: %s (is dm-verity available "
			     "in the kernel?)",
			     name, g_strerror (-r));
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_verity_activate_crypt (const gchar *device, const MuSignedHeader *header,
			  const MuSecret *volume_key, const gchar *name, GError **error)
{
	g_autoptr (MuCryptDevice) cd = NULL;
	g_auto (GStrv) spec = NULL;
	struct crypt_params_plain params = {
		.offset = 0,
		.skip = 0,
		.size = header->data_size / 512,
		.sector_size = header->sector_size,
	};
	int r;

	g_return_val_if_fail (device != NULL && header != NULL && volume_key != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	/* "aes-xts-plain64" -> "aes", "xts-plain64"; "xchacha12,aes-adiantum-plain64" ->
	 * "xchacha12,aes", "adiantum-plain64": the split libcryptsetup makes of a LUKS2 one. */
	spec = g_strsplit (header->cipher, "-", 2);
	if (g_strv_length (spec) != 2 || volume_key->len != header->key_size) {
		g_set_error (
			error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			"the signed cipher or key size does not fit the volume key (%" G_GSIZE_FORMAT
			" bytes); get the bundle again",
			volume_key->len);
		return FALSE;
	}
	r = crypt_init (&cd, device);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "cannot open %s for dm-crypt: %s",
			     device, g_strerror (-r));
		return FALSE;
	}
	mu_luks_set_device_logging (cd);
	r = crypt_format (cd, CRYPT_PLAIN, spec[0], spec[1], NULL, (const char *) volume_key->data,
			  volume_key->len, &params);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot set up dm-crypt (%s) over %s: %s", header->cipher, device,
			     g_strerror (-r));
		return FALSE;
	}
	/* PRIVATE: udev's rules skip the cleartext, as for v1. */
	r = crypt_activate_by_volume_key (cd, name, (const char *) volume_key->data,
					  volume_key->len,
					  CRYPT_ACTIVATE_READONLY | CRYPT_ACTIVATE_PRIVATE);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot activate dm-crypt mapping %s: %s (is dm-crypt available in "
			     "the kernel?)",
			     name, g_strerror (-r));
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_verity_is_corrupted (const gchar *name)
{
	/* The device-mapper status of the mapping, asked of the kernel directly: its
	 * verity target says "V" (verified so far) or "C" (a block did not match). */
	union {
		struct dm_ioctl dm;
		gchar buf[16384];
	} u;
	struct dm_target_spec spec;
	const gchar *status;
	int fd;
	int r;

	g_return_val_if_fail (name != NULL, FALSE);

	memset (&u, 0, sizeof (u));
	u.dm.version[0] = DM_VERSION_MAJOR;
	u.dm.data_size = sizeof (u);
	u.dm.data_start = sizeof (struct dm_ioctl);
	g_strlcpy (u.dm.name, name, sizeof (u.dm.name));
	fd = open ("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return FALSE;
	r = ioctl (fd, DM_TABLE_STATUS, &u.dm);
	close (fd);
	if (r < 0 || u.dm.target_count < 1 || (u.dm.flags & DM_BUFFER_FULL_FLAG) != 0 ||
	    u.dm.data_start + sizeof (spec) >= sizeof (u))
		return FALSE;
	/* Copied out: the offset is the kernel's, so nothing here assumes its alignment. */
	memcpy (&spec, u.buf + u.dm.data_start, sizeof (spec));
	status = u.buf + u.dm.data_start + sizeof (spec);
	u.buf[sizeof (u.buf) - 1] = '\0';
	return strncmp (spec.target_type, "verity", sizeof (spec.target_type)) == 0 &&
	       status[0] == 'C';
}

void
mu_verity_set_corrupt_error (GError **error)
{
	GError *corrupt;

	if (error == NULL || *error == NULL)
		return;
	/* Whatever failed the read (the mount, the apply): the kernel met a block that is not
	 * the one the vendor signed. */
	corrupt = g_error_new (MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			       "a block of the bundle does not match its signed dm-verity hash "
			       "tree: the file was damaged or changed after it was made (%s); copy "
			       "or download it again",
			       (*error)->message);
	g_clear_error (error);
	*error = corrupt;
}
