/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-error.h"
#include "mu-escape.h"
#include "mu-media-udisks.h"

/*
 * udisks2 is followed through its object manager with plain GIO proxies (no libudisks2).
 * Whatever changes (an object or an interface added or removed, udisks2 leaving or coming
 * back), the set of qualifying filesystems is computed again from all objects and compared
 * with what was reported: "added" for the new ones, "removed" for the ones gone. A device has
 * a handful of block objects, so this stays cheap, and no order of udisks2's signals can
 * leave a medium reported that is no longer there.
 */

#define UDISKS_NAME "org.freedesktop.UDisks2"
#define UDISKS_PATH "/org/freedesktop/UDisks2"
#define UDISKS_IFACE_BLOCK "org.freedesktop.UDisks2.Block"
#define UDISKS_IFACE_DRIVE "org.freedesktop.UDisks2.Drive"
#define UDISKS_IFACE_FILESYSTEM "org.freedesktop.UDisks2.Filesystem"
#define UDISKS_IFACE_LOOP "org.freedesktop.UDisks2.Loop"
#define UDISKS_ERROR_NOT_MOUNTED "org.freedesktop.UDisks2.Error.NotMounted"
#define UDISKS_ERROR_ALREADY_MOUNTED "org.freedesktop.UDisks2.Error.AlreadyMounted"

/* What the bundle's medium is mounted with. udisks2 adds nosuid and nodev itself and
 * accepts ro and noexec for every filesystem type. */
#define MOUNT_OPTIONS "ro,nosuid,nodev,noexec"
/* udisks2 may wait for a slow stick; the daemon stays responsive while it does. */
#define MOUNT_TIMEOUT_MS (120 * 1000)

struct _MuMediaUdisks {
	GObject parent_instance;

	GDBusConnection *bus;
	GDBusObjectManager *manager;
	/* block object path -> MuMedium, what was reported as "added" */
	GHashTable *media;
	gboolean started;
};

static void mu_media_udisks_iface_init (MuMediaSourceInterface *iface);

G_DEFINE_TYPE_WITH_CODE (MuMediaUdisks, mu_media_udisks, G_TYPE_OBJECT,
			 G_IMPLEMENT_INTERFACE (MU_TYPE_MEDIA_SOURCE, mu_media_udisks_iface_init))

static GVariant *
cached (GDBusObject *object, const gchar *iface_name, const gchar *property)
{
	g_autoptr (GDBusInterface) iface = g_dbus_object_get_interface (object, iface_name);

	if (iface == NULL)
		return NULL;
	return g_dbus_proxy_get_cached_property (G_DBUS_PROXY (iface), property);
}

static gchar *
cached_string (GDBusObject *object, const gchar *iface_name, const gchar *property,
	       const GVariantType *type)
{
	g_autoptr (GVariant) value = cached (object, iface_name, property);

	if (value == NULL || !g_variant_is_of_type (value, type))
		return NULL;
	if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
		return g_strdup (g_variant_get_bytestring (value));
	return g_variant_dup_string (value, NULL);
}

static gboolean
drive_is_sd_card (GDBusObject *drive)
{
	g_autofree gchar *media = cached_string (drive, UDISKS_IFACE_DRIVE, "Media",
						 G_VARIANT_TYPE_STRING);
	g_autoptr (GVariant) compat = cached (drive, UDISKS_IFACE_DRIVE, "MediaCompatibility");
	g_autofree const gchar **kinds = NULL;

	if (g_strcmp0 (media, "flash_sd") == 0)
		return TRUE;
	if (compat == NULL || !g_variant_is_of_type (compat, G_VARIANT_TYPE_STRING_ARRAY))
		return FALSE;
	kinds = g_variant_get_strv (compat, NULL);
	return g_strv_contains (kinds, "flash_sd");
}

/* "usb" or "sd" for the drive of @block, NULL for any other drive (or none). */
static const gchar *
drive_bus (MuMediaUdisks *self, GDBusObject *block)
{
	g_autofree gchar *drive_path = cached_string (block, UDISKS_IFACE_BLOCK, "Drive",
						      G_VARIANT_TYPE_OBJECT_PATH);
	g_autoptr (GDBusObject) drive = NULL;
	g_autofree gchar *bus = NULL;

	if (drive_path == NULL || strcmp (drive_path, "/") == 0)
		return NULL;
	drive = g_dbus_object_manager_get_object (self->manager, drive_path);
	if (drive == NULL)
		return NULL;
	bus = cached_string (drive, UDISKS_IFACE_DRIVE, "ConnectionBus", G_VARIANT_TYPE_STRING);
	if (g_strcmp0 (bus, "usb") == 0)
		return "usb";
	/* udisks2's name for an SD/MMC slot (such a card has no ID_BUS in udev). An eMMC chip
	 * soldered on the board is on that bus too: only SD cards are media. */
	if (g_strcmp0 (bus, "sdio") == 0 && drive_is_sd_card (drive))
		return "sd";
	return NULL;
}

/*
 * A MuMedium for @object if it is a filesystem on a USB or SD/MMC drive: never an internal
 * disk (its drive is on another bus), never a loop or device-mapper device (they have no
 * drive; the bundle's own loop device and mapping must not come back as media), never the
 * cleartext side of an encrypted partition.
 */
static MuMedium *
medium_for (MuMediaUdisks *self, GDBusObject *object)
{
	g_autoptr (GDBusInterface) fs = NULL;
	g_autoptr (GDBusInterface) loop = NULL;
	g_autofree gchar *device = NULL;
	g_autofree gchar *label = NULL;
	g_autofree gchar *fs_type = NULL;
	g_autofree gchar *backing = NULL;
	g_autofree gchar *base = NULL;
	const gchar *bus;

	fs = g_dbus_object_get_interface (object, UDISKS_IFACE_FILESYSTEM);
	if (fs == NULL)
		return NULL;
	loop = g_dbus_object_get_interface (object, UDISKS_IFACE_LOOP);
	if (loop != NULL)
		return NULL;
	backing = cached_string (object, UDISKS_IFACE_BLOCK, "CryptoBackingDevice",
				 G_VARIANT_TYPE_OBJECT_PATH);
	if (backing != NULL && strcmp (backing, "/") != 0)
		return NULL;
	device = cached_string (object, UDISKS_IFACE_BLOCK, "Device", G_VARIANT_TYPE_BYTESTRING);
	if (device == NULL || *device == '\0')
		return NULL;
	base = g_path_get_basename (device);
	if (g_str_has_prefix (base, "loop") || g_str_has_prefix (base, "dm-"))
		return NULL;
	bus = drive_bus (self, object);
	if (bus == NULL)
		return NULL;
	label = cached_string (object, UDISKS_IFACE_BLOCK, "IdLabel", G_VARIANT_TYPE_STRING);
	fs_type = cached_string (object, UDISKS_IFACE_BLOCK, "IdType", G_VARIANT_TYPE_STRING);
	return mu_medium_new (g_dbus_object_get_object_path (object), device, label, bus, fs_type);
}

static void
rescan (MuMediaUdisks *self)
{
	g_autoptr (GHashTable) now = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
							    (GDestroyNotify) mu_medium_unref);
	g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_medium_unref);
	g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_medium_unref);
	g_autofree gchar *owner = g_dbus_object_manager_client_get_name_owner (
		G_DBUS_OBJECT_MANAGER_CLIENT (self->manager));
	GList *objects;
	GHashTableIter iter;
	gpointer key, value;

	/* udisks2 left the bus (restarted, crashed): its objects went with it, the media did
	 * not. What went meanwhile is seen once it is back; an install under way notices a
	 * pulled medium by itself (its block device goes). */
	if (owner == NULL)
		return;
	objects = g_dbus_object_manager_get_objects (self->manager);
	for (GList *l = objects; l != NULL; l = l->next) {
		MuMedium *medium = medium_for (self, G_DBUS_OBJECT (l->data));

		if (medium != NULL)
			g_hash_table_insert (now, g_strdup (medium->id), medium);
	}
	g_list_free_full (objects, g_object_unref);

	g_hash_table_iter_init (&iter, self->media);
	while (g_hash_table_iter_next (&iter, &key, &value)) {
		if (g_hash_table_contains (now, key))
			continue;
		g_ptr_array_add (gone, mu_medium_ref (value));
		g_hash_table_iter_remove (&iter);
	}
	g_hash_table_iter_init (&iter, now);
	while (g_hash_table_iter_next (&iter, &key, &value)) {
		if (g_hash_table_contains (self->media, key))
			continue;
		g_hash_table_insert (self->media, g_strdup (key), mu_medium_ref (value));
		g_ptr_array_add (added, mu_medium_ref (value));
	}

	/* Signals last: a handler may call back into this object. */
	for (guint i = 0; i < gone->len; i++) {
		MuMedium *medium = g_ptr_array_index (gone, i);

		g_info ("media: %s (%s) is gone", medium->device, medium->id);
		mu_media_source_emit_removed (MU_MEDIA_SOURCE (self), medium);
	}
	for (guint i = 0; i < added->len; i++) {
		MuMedium *medium = g_ptr_array_index (added, i);
		g_autofree gchar *label = mu_escape_untrusted (medium->label);

		g_info ("media: %s on %s, %s filesystem labelled '%s' (%s)", medium->device,
			medium->bus, medium->fs_type, label, medium->id);
		mu_media_source_emit_added (MU_MEDIA_SOURCE (self), medium);
	}
}

static void
on_object_changed (GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	rescan (MU_MEDIA_UDISKS (user_data));
}

static void
on_interface_changed (GDBusObjectManager *manager, GDBusObject *object, GDBusInterface *iface,
		      gpointer user_data)
{
	rescan (MU_MEDIA_UDISKS (user_data));
}

/* A block's drive or type, or a drive's bus, may be filled in after the object appears. */
static void
on_properties_changed (GDBusObjectManagerClient *manager, GDBusObjectProxy *object,
		       GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
	const gchar *iface_name = g_dbus_proxy_get_interface_name (proxy);

	if (g_strcmp0 (iface_name, UDISKS_IFACE_BLOCK) == 0 ||
	    g_strcmp0 (iface_name, UDISKS_IFACE_DRIVE) == 0)
		rescan (MU_MEDIA_UDISKS (user_data));
}

static void
on_name_owner (GObject *manager, GParamSpec *pspec, gpointer user_data)
{
	g_autofree gchar *owner = g_dbus_object_manager_client_get_name_owner (
		G_DBUS_OBJECT_MANAGER_CLIENT (manager));

	if (owner != NULL)
		g_info ("media: udisks2 is on the bus (%s)", owner);
	else
		g_warning (
			"media: udisks2 left the bus; media plugged or pulled meanwhile are seen "
			"when it is back");
	rescan (MU_MEDIA_UDISKS (user_data));
}

static void
on_start_service (GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) ret = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
								  result, &error);

	if (ret == NULL)
		g_warning ("media: cannot start udisks2: %s; waiting for it to appear on the bus",
			   error->message);
}

static gboolean
mu_media_udisks_start (MuMediaSource *source, GError **error)
{
	MuMediaUdisks *self = MU_MEDIA_UDISKS (source);
	g_autoptr (GError) local_error = NULL;
	g_autofree gchar *owner = NULL;

	g_return_val_if_fail (!self->started, FALSE);

	/* Not auto-started here: the object manager then also works while udisks2 is absent,
	 * and picks it up (with "object-added" for each object) when its name appears. */
	self->manager = g_dbus_object_manager_client_new_sync (
		self->bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, UDISKS_NAME,
		UDISKS_PATH, NULL, NULL, NULL, NULL, &local_error);
	if (self->manager == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "media: cannot follow udisks2's objects: %s", local_error->message);
		return FALSE;
	}
	self->started = TRUE;
	g_signal_connect_object (self->manager, "object-added", G_CALLBACK (on_object_changed),
				 self, 0);
	g_signal_connect_object (self->manager, "object-removed", G_CALLBACK (on_object_changed),
				 self, 0);
	g_signal_connect_object (self->manager, "interface-added",
				 G_CALLBACK (on_interface_changed), self, 0);
	g_signal_connect_object (self->manager, "interface-removed",
				 G_CALLBACK (on_interface_changed), self, 0);
	g_signal_connect_object (self->manager, "interface-proxy-properties-changed",
				 G_CALLBACK (on_properties_changed), self, 0);
	g_signal_connect_object (self->manager, "notify::name-owner", G_CALLBACK (on_name_owner),
				 self, 0);

	owner = g_dbus_object_manager_client_get_name_owner (
		G_DBUS_OBJECT_MANAGER_CLIENT (self->manager));
	if (owner == NULL) {
		/* udisks2 is bus-activated on most systems: ask for it once, without waiting. */
		g_message ("media: udisks2 is not on the bus yet; asking the bus to start it");
		g_dbus_connection_call (self->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					"org.freedesktop.DBus", "StartServiceByName",
					g_variant_new ("(su)", UDISKS_NAME, 0),
					G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
					on_start_service, NULL);
	}
	rescan (self);
	return TRUE;
}

/* The object of @medium if udisks2 still has it with a filesystem, else MediaRemoved. */
static gboolean
check_present (MuMediaUdisks *self, MuMedium *medium, const gchar *what, GError **error)
{
	g_autoptr (GDBusObject) object = NULL;
	g_autoptr (GDBusInterface) fs = NULL;

	if (self->manager != NULL)
		object = g_dbus_object_manager_get_object (self->manager, medium->id);
	if (object != NULL)
		fs = g_dbus_object_get_interface (object, UDISKS_IFACE_FILESYSTEM);
	if (fs == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_MEDIA_REMOVED,
			     "%s: %s is gone (the medium was removed); plug it in again", what,
			     medium->device);
		return FALSE;
	}
	return TRUE;
}

static GVariant *
call_filesystem (MuMediaUdisks *self, MuMedium *medium, const gchar *method, GVariant *args,
		 const GVariantType *reply_type, gint timeout_ms, GCancellable *cancellable,
		 GError **error)
{
	return g_dbus_connection_call_sync (self->bus, UDISKS_NAME, medium->id,
					    UDISKS_IFACE_FILESYSTEM, method, args, reply_type,
					    G_DBUS_CALL_FLAGS_NO_AUTO_START, timeout_ms,
					    cancellable, error);
}

/* The same without waiting, and without a cancellable: the reply says what udisks2 did. */
static void
call_filesystem_async (MuMediaUdisks *self, MuMedium *medium, const gchar *method, GVariant *args,
		       const GVariantType *reply_type, gint timeout_ms,
		       GAsyncReadyCallback callback, gpointer user_data)
{
	g_dbus_connection_call (self->bus, UDISKS_NAME, medium->id, UDISKS_IFACE_FILESYSTEM, method,
				args, reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START, timeout_ms, NULL,
				callback, user_data);
}

static GVariant *
options_new (const gchar *mount_options)
{
	g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

	if (mount_options != NULL)
		g_variant_builder_add (&b, "{sv}", "options", g_variant_new_string (mount_options));
	/* A daemon has nobody to ask for a password: fail instead of waiting for polkit. */
	g_variant_builder_add (&b, "{sv}", "auth.no_user_interaction",
			       g_variant_new_boolean (TRUE));
	return g_variant_new ("(@a{sv})", g_variant_builder_end (&b));
}

/* A failed udisks2 call as MU_ERROR: MediaRemoved if the object went away meanwhile. */
static void
set_call_error (MuMediaUdisks *self, MuMedium *medium, const gchar *what, GError *call_error,
		GError **error)
{
	if (g_error_matches (call_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CANCELLED, "%s: %s: cancelled", what,
			     medium->device);
		return;
	}
	if (!check_present (self, medium, what, error))
		return;
	g_dbus_error_strip_remote_error (call_error);
	g_set_error (error, MU_ERROR, MU_ERROR_IO, "%s: udisks2 cannot %s %s: %s", what, what,
		     medium->device, call_error->message);
}

/* One Mount call and, if someone else mounted the medium first, Unmount and Mount again. */
typedef struct {
	MuMediaUdisks *self;
	MuMedium *medium;
	gboolean remounting;
} MountData;

static void
mount_data_free (MountData *d)
{
	g_object_unref (d->self);
	mu_medium_unref (d->medium);
	g_free (d);
}

static void on_mount_reply (GObject *bus, GAsyncResult *result, gpointer user_data);

static void
call_mount (GTask *task)
{
	MountData *d = g_task_get_task_data (task);

	call_filesystem_async (d->self, d->medium, "Mount", options_new (MOUNT_OPTIONS),
			       G_VARIANT_TYPE ("(s)"), MOUNT_TIMEOUT_MS, on_mount_reply, task);
}

static void
on_remount_unmounted (GObject *bus, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (GTask) task = user_data;
	MountData *d = g_task_get_task_data (task);
	g_autoptr (GError) call_error = NULL;
	g_autoptr (GVariant) ret = NULL;
	GError *error = NULL;

	ret = g_dbus_connection_call_finish (G_DBUS_CONNECTION (bus), result, &call_error);
	if (ret == NULL) {
		set_call_error (d->self, d->medium, "mount", call_error, &error);
		g_task_return_error (task, error);
		return;
	}
	call_mount (g_steal_pointer (&task));
}

static void
on_mount_reply (GObject *bus, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (GTask) task = user_data;
	MountData *d = g_task_get_task_data (task);
	g_autoptr (GError) call_error = NULL;
	g_autoptr (GVariant) ret = NULL;
	gchar *mount_point = NULL;
	GError *error = NULL;

	ret = g_dbus_connection_call_finish (G_DBUS_CONNECTION (bus), result, &call_error);
	if (ret == NULL && !d->remounting && g_dbus_error_is_remote_error (call_error)) {
		g_autofree gchar *name = g_dbus_error_get_remote_error (call_error);

		/* Mounted by someone else (or by a daemon that died), with options that are not
		 * necessarily ours: unmount it and mount it as the bundle needs. */
		if (g_strcmp0 (name, UDISKS_ERROR_ALREADY_MOUNTED) == 0) {
			g_message ("mount: %s is already mounted; remounting it read-only",
				   d->medium->device);
			d->remounting = TRUE;
			call_filesystem_async (d->self, d->medium, "Unmount", options_new (NULL),
					       NULL, -1, on_remount_unmounted,
					       g_steal_pointer (&task));
			return;
		}
	}
	if (ret == NULL) {
		set_call_error (d->self, d->medium, "mount", call_error, &error);
		g_task_return_error (task, error);
		return;
	}
	g_variant_get (ret, "(s)", &mount_point);
	g_info ("mount: %s at %s (" MOUNT_OPTIONS ")", d->medium->device, mount_point);
	g_task_return_pointer (task, mount_point, g_free);
}

static void
mu_media_udisks_mount_async (MuMediaSource *source, MuMedium *medium, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data)
{
	MuMediaUdisks *self = MU_MEDIA_UDISKS (source);
	g_autoptr (GTask) task = g_task_new (source, cancellable, callback, user_data);
	MountData *d = g_new0 (MountData, 1);
	GError *error = NULL;

	g_task_set_source_tag (task, mu_media_udisks_mount_async);
	/* The outcome is udisks2's, cancelled or not (see mu-media-source.h). */
	g_task_set_check_cancellable (task, FALSE);
	d->self = g_object_ref (self);
	d->medium = mu_medium_ref (medium);
	g_task_set_task_data (task, d, (GDestroyNotify) mount_data_free);
	if (!check_present (self, medium, "mount", &error)) {
		g_task_return_error (task, error);
		return;
	}
	call_mount (g_steal_pointer (&task));
}

static gchar *
mu_media_udisks_mount_finish (MuMediaSource *source, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail (g_task_is_valid (result, source), NULL);
	return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
mu_media_udisks_unmount (MuMediaSource *source, MuMedium *medium, GError **error)
{
	MuMediaUdisks *self = MU_MEDIA_UDISKS (source);
	g_autoptr (GError) call_error = NULL;
	g_autoptr (GVariant) ret = NULL;

	ret = call_filesystem (self, medium, "Unmount", options_new (NULL), NULL, -1, NULL,
			       &call_error);
	if (ret != NULL)
		return TRUE;
	if (g_dbus_error_is_remote_error (call_error)) {
		g_autofree gchar *name = g_dbus_error_get_remote_error (call_error);

		if (g_strcmp0 (name, UDISKS_ERROR_NOT_MOUNTED) == 0)
			return TRUE;
	}
	set_call_error (self, medium, "unmount", call_error, error);
	return FALSE;
}

static void
mu_media_udisks_dispose (GObject *object)
{
	MuMediaUdisks *self = MU_MEDIA_UDISKS (object);

	g_clear_object (&self->manager);
	g_clear_object (&self->bus);
	G_OBJECT_CLASS (mu_media_udisks_parent_class)->dispose (object);
}

static void
mu_media_udisks_finalize (GObject *object)
{
	MuMediaUdisks *self = MU_MEDIA_UDISKS (object);

	g_hash_table_unref (self->media);
	G_OBJECT_CLASS (mu_media_udisks_parent_class)->finalize (object);
}

static void
mu_media_udisks_class_init (MuMediaUdisksClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->dispose = mu_media_udisks_dispose;
	object_class->finalize = mu_media_udisks_finalize;
}

static void
mu_media_udisks_iface_init (MuMediaSourceInterface *iface)
{
	iface->start = mu_media_udisks_start;
	iface->mount_async = mu_media_udisks_mount_async;
	iface->mount_finish = mu_media_udisks_mount_finish;
	iface->unmount = mu_media_udisks_unmount;
}

static void
mu_media_udisks_init (MuMediaUdisks *self)
{
	self->media = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
					     (GDestroyNotify) mu_medium_unref);
}

MuMediaSource *
mu_media_udisks_new (GDBusConnection *system_bus)
{
	MuMediaUdisks *self;

	g_return_val_if_fail (G_IS_DBUS_CONNECTION (system_bus), NULL);
	self = g_object_new (MU_TYPE_MEDIA_UDISKS, NULL);
	self->bus = g_object_ref (system_bus);
	return MU_MEDIA_SOURCE (self);
}
