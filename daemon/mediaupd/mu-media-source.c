/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-media-source.h"

MuMedium *
mu_medium_new (const gchar *id, const gchar *device, const gchar *label, const gchar *bus,
	       const gchar *fs_type)
{
	MuMedium *medium = g_new0 (MuMedium, 1);

	g_return_val_if_fail (id != NULL, NULL);
	medium->ref_count = 1;
	medium->id = g_strdup (id);
	medium->device = g_strdup (device != NULL ? device : "");
	medium->label = g_strdup (label != NULL ? label : "");
	medium->bus = g_strdup (bus != NULL ? bus : "");
	medium->fs_type = g_strdup (fs_type != NULL ? fs_type : "");
	return medium;
}

MuMedium *
mu_medium_ref (MuMedium *medium)
{
	g_return_val_if_fail (medium != NULL, NULL);
	g_atomic_int_inc (&medium->ref_count);
	return medium;
}

void
mu_medium_unref (MuMedium *medium)
{
	if (medium == NULL || !g_atomic_int_dec_and_test (&medium->ref_count))
		return;
	g_free (medium->id);
	g_free (medium->device);
	g_free (medium->label);
	g_free (medium->bus);
	g_free (medium->fs_type);
	g_free (medium);
}

G_DEFINE_BOXED_TYPE (MuMedium, mu_medium, mu_medium_ref, mu_medium_unref)

enum { SIGNAL_ADDED, SIGNAL_REMOVED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

G_DEFINE_INTERFACE (MuMediaSource, mu_media_source, G_TYPE_OBJECT)

static void
mu_media_source_default_init (MuMediaSourceInterface *iface)
{
	signals[SIGNAL_ADDED] = g_signal_new ("added", G_TYPE_FROM_INTERFACE (iface),
					      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
					      1, mu_medium_get_type ());
	signals[SIGNAL_REMOVED] = g_signal_new ("removed", G_TYPE_FROM_INTERFACE (iface),
						G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
						1, mu_medium_get_type ());
}

gboolean
mu_media_source_start (MuMediaSource *self, GError **error)
{
	g_return_val_if_fail (MU_IS_MEDIA_SOURCE (self), FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	return MU_MEDIA_SOURCE_GET_IFACE (self)->start (self, error);
}

void
mu_media_source_mount_async (MuMediaSource *self, MuMedium *medium, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail (MU_IS_MEDIA_SOURCE (self));
	g_return_if_fail (medium != NULL);
	MU_MEDIA_SOURCE_GET_IFACE (self)->mount_async (self, medium, cancellable, callback,
						       user_data);
}

gchar *
mu_media_source_mount_finish (MuMediaSource *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail (MU_IS_MEDIA_SOURCE (self), NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);
	return MU_MEDIA_SOURCE_GET_IFACE (self)->mount_finish (self, result, error);
}

static void
on_mounted_sync (GObject *source, GAsyncResult *result, gpointer user_data)
{
	*(GAsyncResult **) user_data = g_object_ref (result);
}

gchar *
mu_media_source_mount (MuMediaSource *self, MuMedium *medium, GCancellable *cancellable,
		       GError **error)
{
	g_autoptr (GMainContext) context = g_main_context_new ();
	g_autoptr (GAsyncResult) result = NULL;

	g_return_val_if_fail (MU_IS_MEDIA_SOURCE (self), NULL);
	g_return_val_if_fail (medium != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);
	g_main_context_push_thread_default (context);
	mu_media_source_mount_async (self, medium, cancellable, on_mounted_sync, &result);
	while (result == NULL)
		g_main_context_iteration (context, TRUE);
	g_main_context_pop_thread_default (context);
	return mu_media_source_mount_finish (self, result, error);
}

gboolean
mu_media_source_unmount (MuMediaSource *self, MuMedium *medium, GError **error)
{
	g_return_val_if_fail (MU_IS_MEDIA_SOURCE (self), FALSE);
	g_return_val_if_fail (medium != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	return MU_MEDIA_SOURCE_GET_IFACE (self)->unmount (self, medium, error);
}

void
mu_media_source_emit_added (MuMediaSource *self, MuMedium *medium)
{
	g_signal_emit (self, signals[SIGNAL_ADDED], 0, medium);
}

void
mu_media_source_emit_removed (MuMediaSource *self, MuMedium *medium)
{
	g_signal_emit (self, signals[SIGNAL_REMOVED], 0, medium);
}
