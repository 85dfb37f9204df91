/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "mu-bundle-v2.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-unlock.h"
#include "mu-verity.h"

/* A LUKS2 container smaller than its own minimal header is no bundle. */
#define MIN_BUNDLE_SIZE (G_GUINT64_CONSTANT (32) * 1024)
#define DM_PREFIX "mediaupd-"
#define LOOP_NAME "mediaupd-bundle"

struct _MuUnlocked {
	gchar *path;
	int file_fd;
	int loop_fd;
	gchar *loop_dev;
	MuBundle *bundle;
	gchar *dm_name;
	gboolean active;
	gchar *verity_name; /* format v2: the dm-verity mapping under dm_name */
	gboolean verity_active;
	gchar *mount_dir;
	gboolean mounted;
	gchar *key_id;
	gint slot;
	dev_t file_dev; /* the filesystem the bundle file lives on */
	gboolean by_fd; /* given by descriptor: there is no name to look at */
};

/* The checks of a candidate on what stat() or fstat() said of it; @name for messages. */
static gboolean
check_candidate_stat (const struct stat *st, const gchar *name, guint64 max_size, guint64 *out_size,
		      GError **error)
{
	if (!S_ISREG (st->st_mode)) {
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' is not a regular file (a symlink, directory, FIFO or device); "
			     "copy the bundle file itself to the medium",
			     name);
		return FALSE;
	}
	if ((guint64) st->st_size < MIN_BUNDLE_SIZE || (guint64) st->st_size > max_size) {
		g_set_error (error, MU_ERROR,
			     (guint64) st->st_size < MIN_BUNDLE_SIZE ? MU_ERROR_NOT_A_BUNDLE
								     : MU_ERROR_INVALID_ARGUMENT,
			     "'%s' has %" G_GUINT64_FORMAT
			     " bytes, outside the accepted %" G_GUINT64_FORMAT
			     "..%" G_GUINT64_FORMAT " bytes",
			     name, (guint64) st->st_size, MIN_BUNDLE_SIZE, max_size);
		return FALSE;
	}
	if (out_size != NULL)
		*out_size = (guint64) st->st_size;
	return TRUE;
}

gboolean
mu_unlock_check_candidate (const gchar *path, guint64 max_size, guint64 *out_size, GError **error)
{
	struct stat st;

	if (lstat (path, &st) < 0) {
		mu_error_set_errno (error, errno, "cannot read '%s'", path);
		return FALSE;
	}
	return check_candidate_stat (&st, path, max_size, out_size, error);
}

gboolean
mu_unlock_check_candidate_fd (int fd, const gchar *name, guint64 max_size, guint64 *out_size,
			      GError **error)
{
	struct stat st;

	if (fstat (fd, &st) < 0) {
		mu_error_set_errno (error, errno, "cannot read '%s'", name);
		return FALSE;
	}
	return check_candidate_stat (&st, name, max_size, out_size, error);
}

/* A read-only loop device over @file_fd (from byte @offset, @size bytes; 0: to the end) that
 * disappears when its last user closes it. */
static gboolean
attach_loop (MuUnlocked *u, guint64 offset, guint64 size, GError **error)
{
	int ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int saved = 0;

	if (ctl < 0) {
		saved = errno;
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot open /dev/loop-control: %s (is the loop module loaded?)",
			     g_strerror (saved));
		return FALSE;
	}
	for (guint attempt = 0; attempt < 16; attempt++) {
		struct loop_config cfg = { 0 };
		int n = ioctl (ctl, LOOP_CTL_GET_FREE);
		g_autofree gchar *dev = NULL;
		int fd;

		if (n < 0) {
			saved = errno;
			break;
		}
		dev = g_strdup_printf ("/dev/loop%d", n);
		fd = open (dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		cfg.fd = (guint32) u->file_fd;
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		cfg.info.lo_offset = offset;
		cfg.info.lo_sizelimit = size;
		g_strlcpy ((gchar *) cfg.info.lo_file_name, LOOP_NAME, LO_NAME_SIZE);
		if (ioctl (fd, LOOP_CONFIGURE, &cfg) == 0) {
			u->loop_fd = fd;
			u->loop_dev = g_steal_pointer (&dev);
			close (ctl);
			return TRUE;
		}
		saved = errno;
		close (fd);
		if (saved != EBUSY)
			break;
	}
	close (ctl);
	g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "cannot set up a loop device: %s",
		     g_strerror (saved));
	return FALSE;
}

static gboolean
open_file (MuUnlocked *u, guint64 max_size, GError **error)
{
	struct stat st;

	/* Given by descriptor: checked as it is, never opened again by a name. */
	if (u->file_fd >= 0) {
		if (!mu_unlock_check_candidate_fd (u->file_fd, u->path, max_size, NULL, error))
			return FALSE;
		u->by_fd = TRUE;
		return TRUE;
	}
	if (!mu_unlock_check_candidate (u->path, max_size, NULL, error))
		return FALSE;
	/* Checks what was opened, not what the name pointed to a moment before. */
	u->file_fd = mu_file_open_regular (u->path, MU_FILE_NOFOLLOW, MU_ERROR_NOT_A_BUNDLE, &st,
					   error);
	if (u->file_fd < 0)
		return FALSE;
	u->file_dev = st.st_dev;
	return TRUE;
}

/* A mapping name that says who made it; short enough for device-mapper (127). */
static gchar *
new_dm_name (const gchar *prefix)
{
	g_autofree gchar *suffix = g_uuid_string_random ();

	suffix[8] = '\0';
	return g_strconcat (prefix, suffix, NULL);
}

static gboolean
activate (MuUnlocked *u, GError **error)
{
	u->dm_name = new_dm_name (DM_PREFIX);
	/* The volume key the trial produced: the keyslot's PBKDF does not run again. */
	if (!mu_bundle_activate (u->bundle, u->dm_name, error))
		return FALSE;
	u->active = TRUE;
	return TRUE;
}

/* The inner filesystem's type from its magic numbers, so that only that one kernel
 * driver ever parses it. */
static const gchar *
detect_fs_type (const gchar *device, GError **error)
{
	guint8 buf[2048];
	ssize_t n;
	int fd = open (device, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot read %s: %s", device,
			     g_strerror (saved));
		return NULL;
	}
	n = pread (fd, buf, sizeof (buf), 0);
	close (fd);
	if (n == (ssize_t) sizeof (buf)) {
		if (memcmp (buf, "hsqs", 4) == 0)
			return "squashfs";
		if (buf[1024] == 0xe2 && buf[1025] == 0xe1 && buf[1026] == 0xf5 &&
		    buf[1027] == 0xe0)
			return "erofs";
		if (buf[1024 + 56] == 0x53 && buf[1024 + 57] == 0xef)
			return "ext4";
	}
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
		     "the bundle holds no known filesystem (erofs, squashfs or ext4); it is "
		     "damaged or was not made by the bundle maker");
	return NULL;
}

/* The filesystem types this device lets its kernel parse from a bundle. */
static gboolean
check_fs_allowed (const gchar *type, const gchar *const *allowed, GError **error)
{
	const gchar *defaults[] = { MU_UNLOCK_FILESYSTEMS_DEFAULT, NULL };
	g_autofree gchar *list = NULL;

	if (allowed == NULL)
		allowed = defaults;
	if (g_strv_contains (allowed, type))
		return TRUE;
	list = g_strjoinv (", ", (GStrv) allowed);
	g_set_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT,
		     "the bundle's inner image is %s, but this device accepts only %s "
		     "([Unlock] Filesystems= in mediaupd.conf); get a bundle made with "
		     "'--fs erofs', or allow %s in the configuration",
		     type, list[0] != '\0' ? list : "none", type);
	return FALSE;
}

static gboolean
mount_inner (MuUnlocked *u, const MuUnlockOptions *options, GError **error)
{
	g_autofree gchar *device = g_strconcat ("/dev/mapper/", u->dm_name, NULL);
	g_autofree gchar *dir = g_build_filename (options->run_dir, "bundle-XXXXXX", NULL);
	const gchar *run_dir = options->run_dir;
	const gchar *type = detect_fs_type (device, error);

	if (type == NULL || !check_fs_allowed (type, options->filesystems, error))
		return FALSE;
	if (g_mkdir_with_parents (run_dir, 0700) < 0 || g_mkdtemp_full (dir, 0700) == NULL) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot create a mount point in %s: %s",
			     run_dir, g_strerror (saved));
		return FALSE;
	}
	u->mount_dir = g_steal_pointer (&dir);
	/* ext4: no journal replay, and an error in the image only remounts it
	 * read-only, whatever its superblock asks for (errors=panic). */
	if (mount (device, u->mount_dir, type,
		   MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW,
		   g_str_equal (type, "ext4") ? "noload,errors=remount-ro" : NULL) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
			     "cannot mount the bundle's %s filesystem: %s", type,
			     g_strerror (saved));
		return FALSE;
	}
	u->mounted = TRUE;
	return TRUE;
}

static gboolean
unmount_inner (MuUnlocked *u, GError **error)
{
	if (u->mounted) {
		/* Something may still hold a file briefly (a scanner); then detach lazily:
		 * the mapping can only close once the filesystem lets go. */
		if (umount2 (u->mount_dir, UMOUNT_NOFOLLOW) < 0 &&
		    umount2 (u->mount_dir, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			int saved = errno;

			g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot unmount %s: %s",
				     u->mount_dir, g_strerror (saved));
			return FALSE;
		}
		u->mounted = FALSE;
	}
	if (u->mount_dir != NULL) {
		(void) g_rmdir (u->mount_dir);
		g_clear_pointer (&u->mount_dir, g_free);
	}
	return TRUE;
}

/* Closes mapping @name; udev may still be probing it for a moment after it appeared. */
static gboolean
deactivate_name (const gchar *name, const gchar *what, GError **error)
{
	int r = 0;

	for (guint attempt = 0; attempt < 50; attempt++) {
		r = crypt_deactivate (NULL, name);
		if (r != -EBUSY)
			break;
		g_usleep (100 * 1000);
	}
	if (r < 0 && r != -ENODEV) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot close %s mapping %s: %s", what,
			     name, g_strerror (-r));
		return FALSE;
	}
	return TRUE;
}

static gboolean
deactivate (MuUnlocked *u, GError **error)
{
	if (!u->active)
		return TRUE;
	if (!deactivate_name (u->dm_name, "dm-crypt", error))
		return FALSE;
	u->active = FALSE;
	return TRUE;
}

/* After the dm-crypt mapping above it: that one holds it open. */
static gboolean
deactivate_verity (MuUnlocked *u, GError **error)
{
	if (!u->verity_active)
		return TRUE;
	if (u->active) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO,
			     "cannot close dm-verity mapping %s: the dm-crypt mapping %s above it "
			     "is still open",
			     u->verity_name, u->dm_name);
		return FALSE;
	}
	if (!deactivate_name (u->verity_name, "dm-verity", error))
		return FALSE;
	u->verity_active = FALSE;
	return TRUE;
}

gboolean
mu_unlocked_close (MuUnlocked *u, GError **error)
{
	g_autoptr (GError) unmount_error = NULL;
	g_autoptr (GError) deactivate_error = NULL;
	g_autoptr (GError) verity_error = NULL;

	g_return_val_if_fail (u != NULL, FALSE);
	/* Each step is tried even when the one before failed: a mount that would
	 * not go must not also leave the mapping and the loop device behind. */
	(void) unmount_inner (u, &unmount_error);
	(void) deactivate (u, &deactivate_error);
	(void) deactivate_verity (u, &verity_error);
	if (deactivate_error == NULL && verity_error != NULL)
		deactivate_error = g_steal_pointer (&verity_error);
	else if (verity_error != NULL)
		g_warning ("finish: %s", verity_error->message);
	g_clear_pointer (&u->bundle, mu_bundle_free);
	/* Closing the last descriptor of an autoclear loop device detaches it. */
	if (u->loop_fd >= 0) {
		close (u->loop_fd);
		u->loop_fd = -1;
	}
	if (u->file_fd >= 0) {
		close (u->file_fd);
		u->file_fd = -1;
	}
	if (unmount_error != NULL) {
		if (deactivate_error != NULL)
			g_warning ("finish: %s", deactivate_error->message);
		g_propagate_error (error, g_steal_pointer (&unmount_error));
		return FALSE;
	}
	if (deactivate_error != NULL) {
		g_propagate_error (error, g_steal_pointer (&deactivate_error));
		return FALSE;
	}
	return TRUE;
}

void
mu_unlocked_free (MuUnlocked *u)
{
	g_autoptr (GError) error = NULL;

	if (u == NULL)
		return;
	if (!mu_unlocked_close (u, &error))
		g_warning ("finish: %s", error->message);
	/* Whatever could not be closed is released as far as possible. */
	g_clear_pointer (&u->bundle, mu_bundle_free);
	if (u->loop_fd >= 0)
		close (u->loop_fd);
	if (u->file_fd >= 0)
		close (u->file_fd);
	g_free (u->path);
	g_free (u->loop_dev);
	g_free (u->dm_name);
	g_free (u->verity_name);
	g_free (u->mount_dir);
	g_free (u->key_id);
	g_free (u);
}

static MuUnlocked *
unlock_bundle (const gchar *path, int fd, GPtrArray *keys, const MuUnlockOptions *options,
	       GCancellable *cancellable, GError **error)
{
	g_autoptr (MuUnlocked) u = g_new0 (MuUnlocked, 1);
	const MuKey *key = NULL;

	u->path = g_strdup (path);
	u->file_fd = -1;
	u->loop_fd = -1;
	u->slot = -1;
	if (fd >= 0) {
		u->file_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
		if (u->file_fd < 0) {
			mu_error_set_errno (error, errno, "cannot use '%s'", path);
			return NULL;
		}
	}
	if (!open_file (u, options->max_size, error) || !attach_loop (u, 0, 0, error))
		return NULL;
	u->bundle = mu_bundle_open_device (u->loop_dev, u->path, error);
	if (u->bundle == NULL)
		return NULL;
	if (options->limits != NULL)
		mu_bundle_set_pbkdf_limits (u->bundle, options->limits);
	mu_bundle_set_extra_ciphers (u->bundle, options->extra_ciphers);
	if (!mu_bundle_try_keys (u->bundle, keys, options->trials, cancellable, &u->slot, &key,
				 error))
		return NULL;
	u->key_id = g_strdup (key->id);
	if (!activate (u, error) || !mount_inner (u, options, error))
		return NULL;
	return g_steal_pointer (&u);
}

MuUnlocked *
mu_unlock_bundle (const gchar *path, GPtrArray *keys, const MuUnlockOptions *options,
		  GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);
	return unlock_bundle (path, -1, keys, options, cancellable, error);
}

MuUnlocked *
mu_unlock_bundle_fd (int fd, const gchar *name, GPtrArray *keys, const MuUnlockOptions *options,
		     GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail (fd >= 0, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);
	return unlock_bundle (name, fd, keys, options, cancellable, error);
}

MuUnlocked *
mu_unlock_bundle_v2 (int fd, const gchar *name, const MuSignedHeader *header,
		     const MuSecret *volume_key, const gchar *key_id, gint slot,
		     const MuUnlockOptions *options, GError **error)
{
	g_autoptr (MuUnlocked) u = NULL;
	g_autofree gchar *verity_device = NULL;

	g_return_val_if_fail (fd >= 0 && name != NULL && header != NULL, NULL);
	g_return_val_if_fail (volume_key != NULL && options != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	u = g_new0 (MuUnlocked, 1);
	u->path = g_strdup (name);
	u->loop_fd = -1;
	u->slot = slot;
	u->key_id = g_strdup (key_id);
	u->by_fd = TRUE;
	u->file_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
	if (u->file_fd < 0) {
		mu_error_set_errno (error, errno, "cannot use '%s'", name);
		return NULL;
	}
	/* The loop device shows the kernel the ciphertext and its hash tree, nothing of
	 * the (unsigned) LUKS2 header before them. */
	if (!attach_loop (u, header->data_offset,
			  header->data_size + mu_signed_header_hash_tree_size (header), error))
		return NULL;
	u->verity_name = new_dm_name (MU_VERITY_DM_PREFIX);
	if (!mu_verity_activate (u->loop_dev, header, u->verity_name, error))
		return NULL;
	u->verity_active = TRUE;
	verity_device = g_strconcat ("/dev/mapper/", u->verity_name, NULL);
	u->dm_name = new_dm_name (DM_PREFIX);
	if (!mu_verity_activate_crypt (verity_device, header, volume_key, u->dm_name, error))
		return NULL;
	u->active = TRUE;
	if (!mount_inner (u, options, error)) {
		/* Asked before the mappings go away with @u. */
		if (mu_verity_is_corrupted (u->verity_name))
			mu_verity_set_corrupt_error (error);
		return NULL;
	}
	return g_steal_pointer (&u);
}

gboolean
mu_unlocked_is_corrupted (MuUnlocked *u)
{
	g_return_val_if_fail (u != NULL, FALSE);
	return u->verity_active && mu_verity_is_corrupted (u->verity_name);
}

gboolean
mu_unlocked_medium_present (MuUnlocked *u)
{
	g_autofree gchar *sys = NULL;
	struct stat st;

	if (u->by_fd)
		return TRUE;
	if (stat (u->path, &st) < 0 && errno != EACCES)
		return FALSE;
	/* Filesystems without a block device (major 0) say no more than the name does. */
	if (major (u->file_dev) == 0)
		return TRUE;
	sys = g_strdup_printf ("/sys/dev/block/%u:%u", major (u->file_dev), minor (u->file_dev));
	return g_file_test (sys, G_FILE_TEST_EXISTS);
}

const gchar *
mu_unlocked_get_root (MuUnlocked *u)
{
	return u->mount_dir;
}

const gchar *
mu_unlocked_get_key_id (MuUnlocked *u)
{
	return u->key_id;
}

gint
mu_unlocked_get_keyslot (MuUnlocked *u)
{
	return u->slot;
}

const gchar *
mu_unlocked_get_dm_name (MuUnlocked *u)
{
	return u->dm_name;
}

const gchar *
mu_unlocked_get_loop_device (MuUnlocked *u)
{
	return u->loop_dev;
}

/* A mount point as /proc/self/mountinfo writes it: space, tab, newline and
 * backslash as octal escapes. */
static gchar *
mountinfo_unescape (const gchar *field)
{
	GString *out = g_string_new (NULL);

	for (const gchar *p = field; *p != '\0'; p++) {
		if (p[0] == '\\' && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]) &&
		    g_ascii_isdigit (p[3])) {
			g_string_append_c (out, (gchar) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) |
							 (p[3] - '0')));
			p += 3;
		} else {
			g_string_append_c (out, *p);
		}
	}
	return g_string_free (out, FALSE);
}

/* The device numbers of the "mediaupd-*" mappings, and their names. */
static GHashTable *
stale_mappings (void)
{
	g_autoptr (GDir) dir = g_dir_open ("/dev/mapper", 0, NULL);
	GHashTable *mappings = g_hash_table_new_full (NULL, NULL, NULL, g_free);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
		g_autofree gchar *path = NULL;
		struct stat st;

		if (!g_str_has_prefix (name, DM_PREFIX))
			continue;
		path = g_build_filename ("/dev/mapper", name, NULL);
		if (stat (path, &st) == 0 && S_ISBLK (st.st_mode))
			g_hash_table_insert (mappings, GUINT_TO_POINTER ((guint) st.st_rdev),
					     g_strdup (name));
	}
	return mappings;
}

/* Unmounts whatever is mounted from one of @mappings; the newest mount first, so
 * that stacked mounts come off in order. */
static void
unmount_stale (GHashTable *mappings)
{
	g_autofree gchar *mountinfo = NULL;
	g_auto (GStrv) lines = NULL;

	if (g_hash_table_size (mappings) == 0 ||
	    !g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL, NULL))
		return;
	lines = g_strsplit (mountinfo, "\n", -1);
	for (guint i = g_strv_length (lines); i-- > 0;) {
		g_auto (GStrv) fields = g_strsplit (lines[i], " ", 6);
		g_autofree gchar *target = NULL;
		guint maj = 0;
		guint min = 0;
		const gchar *name;

		if (g_strv_length (fields) < 5 || sscanf (fields[2], "%u:%u", &maj, &min) != 2)
			continue;
		name = g_hash_table_lookup (mappings,
					    GUINT_TO_POINTER ((guint) makedev (maj, min)));
		if (name == NULL)
			continue;
		target = mountinfo_unescape (fields[4]);
		if (umount2 (target, UMOUNT_NOFOLLOW) < 0 &&
		    umount2 (target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			int saved = errno;

			g_warning ("cannot unmount stale mount %s of %s: %s", target, name,
				   g_strerror (saved));
			continue;
		}
		g_message ("unmounted stale mount %s of %s left by an earlier run", target, name);
		/* The mount point was made for the bundle; an empty directory is all it is. */
		(void) g_rmdir (target);
	}
}

/* Detaches loop devices named LOOP_NAME whose mapping is gone. */
static void
detach_stale_loops (void)
{
	g_autoptr (GDir) dir = g_dir_open ("/sys/block", 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
		g_autofree gchar *dev = NULL;
		struct loop_info64 info = { 0 };
		int fd;

		if (!g_str_has_prefix (name, "loop"))
			continue;
		dev = g_build_filename ("/dev", name, NULL);
		fd = open (dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl (fd, LOOP_GET_STATUS64, &info) == 0 &&
		    strncmp ((const gchar *) info.lo_file_name, LOOP_NAME, LO_NAME_SIZE) == 0) {
			if (ioctl (fd, LOOP_CLR_FD, 0) < 0)
				g_warning ("cannot detach stale loop device %s: %s", dev,
					   g_strerror (errno));
			else
				g_message ("detached stale loop device %s left by an earlier run",
					   dev);
		}
		close (fd);
	}
}

/* Closes the stale mappings of @mappings whose names do (or do not) start with
 * MU_VERITY_DM_PREFIX. */
static void
close_stale_mappings (GHashTable *mappings, gboolean verity)
{
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init (&iter, mappings);
	while (g_hash_table_iter_next (&iter, NULL, &value)) {
		const gchar *name = value;
		int r;

		if (g_str_has_prefix (name, MU_VERITY_DM_PREFIX) != verity)
			continue;
		r = crypt_deactivate (NULL, name);
		if (r < 0)
			g_warning ("cannot close stale mapping %s: %s", name, g_strerror (-r));
		else
			g_message ("closed stale mapping %s left by an earlier run", name);
	}
}

void
mu_unlock_cleanup_stale (void)
{
	g_autoptr (GHashTable) mappings = stale_mappings ();

	/* In this order: a mapping cannot close while mounted, a verity mapping while
	 * the dm-crypt mapping of a v2 bundle sits on it, nor a loop device detach while
	 * a mapping holds it. */
	unmount_stale (mappings);
	close_stale_mappings (mappings, FALSE);
	close_stale_mappings (mappings, TRUE);
	detach_stale_loops ();
}
