/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where removable media come from: udisks2 on a device (mu-media-udisks.c), a fake over
 * plain directories in the host tests. The daemon sees only this interface.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

/* One filesystem on a removable medium (a USB stick partition, an SD card). */
typedef struct {
	gint ref_count;
	gchar *id;      /* stable while present: the udisks2 block object path */
	gchar *device;  /* /dev/sda1 */
	gchar *label;   /* filesystem label, may be "" (from the medium: escape before use) */
	gchar *bus;     /* "usb" or "sd" */
	gchar *fs_type; /* "vfat", "ext4", "exfat" ... */
} MuMedium;

GType mu_medium_get_type (void);
MuMedium *mu_medium_new (const gchar *id, const gchar *device, const gchar *label, const gchar *bus,
			 const gchar *fs_type);
MuMedium *mu_medium_ref (MuMedium *medium);
void mu_medium_unref (MuMedium *medium);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuMedium, mu_medium_unref)

#define MU_TYPE_MEDIA_SOURCE (mu_media_source_get_type ())
G_DECLARE_INTERFACE (MuMediaSource, mu_media_source, MU, MEDIA_SOURCE, GObject)

/*
 * Signals:
 *   "added"   (MuMedium *medium)  a filesystem on a removable medium appeared (also, once,
 *                                 for each one already present when started)
 *   "removed" (MuMedium *medium)  it went away (pulled out), as soon as the source knows
 */
struct _MuMediaSourceInterface {
	GTypeInterface parent_iface;

	gboolean (*start) (MuMediaSource *self, GError **error);
	/* Mounts read-only, nosuid, nodev, noexec, without blocking the caller's main context;
	 * mount_finish() returns the mount point (owned by the caller). The outcome is the
	 * real one even when @cancellable was cancelled meanwhile (a medium the source did
	 * mount is reported mounted, so that the caller can unmount it). */
	void (*mount_async) (MuMediaSource *self, MuMedium *medium, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data);
	gchar *(*mount_finish) (MuMediaSource *self, GAsyncResult *result, GError **error);
	gboolean (*unmount) (MuMediaSource *self, MuMedium *medium, GError **error);
};

G_GNUC_WARN_UNUSED_RESULT
gboolean mu_media_source_start (MuMediaSource *self, GError **error);
void mu_media_source_mount_async (MuMediaSource *self, MuMedium *medium, GCancellable *cancellable,
				  GAsyncReadyCallback callback, gpointer user_data);
G_GNUC_WARN_UNUSED_RESULT
gchar *mu_media_source_mount_finish (MuMediaSource *self, GAsyncResult *result, GError **error);
/* The same, waiting for the outcome on a main context of its own (for tools, not the daemon). */
G_GNUC_WARN_UNUSED_RESULT
gchar *mu_media_source_mount (MuMediaSource *self, MuMedium *medium, GCancellable *cancellable,
			      GError **error);
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_media_source_unmount (MuMediaSource *self, MuMedium *medium, GError **error);

/* For implementations. */
void mu_media_source_emit_added (MuMediaSource *self, MuMedium *medium);
void mu_media_source_emit_removed (MuMediaSource *self, MuMedium *medium);

G_END_DECLS
