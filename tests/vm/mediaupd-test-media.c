/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test-only (never installed): the daemon's udisks2 media source on its own, on the guest's
 * system bus. Prints one line per event, so that the vm suite can check what it reports:
 *
 *   added DEVICE bus=BUS fs=TYPE label=LABEL id=OBJECT
 *   removed DEVICE
 * and with --mount, for each medium added:
 *   mounted DEVICE MOUNT_POINT options=OPTIONS   (per-mount options from mountinfo)
 *   unmounted DEVICE left=0|1                    (1: the mount point is still mounted)
 *   mount-error DEVICE NAME MESSAGE
 * and, for each medium removed, a mount of it that must fail:
 *   mount-after-removal DEVICE NAME
 *
 * Runs until SIGTERM or SIGINT.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#include "mu-error.h"
#include "mu-escape.h"
#include "mu-media-udisks.h"

static gboolean opt_mount;

/*
 * The per-mount options of the mount at @mount_point in /proc/self/mountinfo, or NULL. The
 * kernel shows the path with symlinks resolved (/media is a symlink to /run/media on an
 * OSTree system), udisks2 the path it asked for.
 */
static gchar *
mount_options (const gchar *mount_point)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *real = realpath (mount_point, NULL);
	g_auto (GStrv) lines = NULL;
	gchar *found = NULL;

	if (real != NULL)
		mount_point = real;
	if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
		return NULL;
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto (GStrv) fields = g_strsplit (lines[i], " ", -1);

		if (g_strv_length (fields) < 6)
			continue;
		/* Later lines are mounts on top: the last match is what is visible. */
		if (g_strcmp0 (fields[4], mount_point) == 0) {
			g_free (found);
			found = g_strdup (fields[5]);
		}
	}
	return found;
}

static const gchar *
error_name (const GError *error)
{
	if (error->domain == MU_ERROR)
		return mu_error_code_to_name ((MuErrorCode) error->code);
	return "Other";
}

static void
on_added (MuMediaSource *source, MuMedium *medium, gpointer user_data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *label = mu_escape_untrusted (medium->label);
	g_autofree gchar *mount_point = NULL;
	g_autofree gchar *options = NULL;
	g_autofree gchar *left = NULL;

	printf ("added %s bus=%s fs=%s label=%s id=%s\n", medium->device, medium->bus,
		medium->fs_type, label, medium->id);
	if (!opt_mount)
		return;
	mount_point = mu_media_source_mount (source, medium, NULL, &error);
	if (mount_point == NULL) {
		printf ("mount-error %s %s %s\n", medium->device, error_name (error),
			error->message);
		return;
	}
	options = mount_options (mount_point);
	printf ("mounted %s %s options=%s\n", medium->device, mount_point,
		options != NULL ? options : "(not in mountinfo)");
	if (!mu_media_source_unmount (source, medium, &error)) {
		printf ("unmount-error %s %s %s\n", medium->device, error_name (error),
			error->message);
		return;
	}
	left = mount_options (mount_point);
	printf ("unmounted %s left=%d\n", medium->device, left != NULL);
}

static void
on_removed (MuMediaSource *source, MuMedium *medium, gpointer user_data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *mount_point = NULL;

	printf ("removed %s\n", medium->device);
	mount_point = mu_media_source_mount (source, medium, NULL, &error);
	printf ("mount-after-removal %s %s\n", medium->device,
		mount_point != NULL ? "Mounted" : error_name (error));
}

static gboolean
on_signal (gpointer user_data)
{
	g_main_loop_quit (user_data);
	return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
	const GOptionEntry entries[] = {
		{ "mount", 0, 0, G_OPTION_ARG_NONE, &opt_mount, "Mount and unmount each medium",
		  NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new ("- the udisks2 media source");
	g_autoptr (GError) error = NULL;
	g_autoptr (GDBusConnection) bus = NULL;
	g_autoptr (MuMediaSource) source = NULL;
	g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);

	setvbuf (stdout, NULL, _IOLBF, 0);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		fprintf (stderr, "mediaupd-test-media: %s\n", error->message);
		return 2;
	}
	bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
	if (bus == NULL) {
		fprintf (stderr, "mediaupd-test-media: %s\n", error->message);
		return 1;
	}
	source = mu_media_udisks_new (bus);
	g_signal_connect (source, "added", G_CALLBACK (on_added), NULL);
	g_signal_connect (source, "removed", G_CALLBACK (on_removed), NULL);
	if (!mu_media_source_start (source, &error)) {
		fprintf (stderr, "mediaupd-test-media: %s\n", error->message);
		return 1;
	}
	printf ("started\n");
	g_unix_signal_add (SIGTERM, on_signal, loop);
	g_unix_signal_add (SIGINT, on_signal, loop);
	g_main_loop_run (loop);
	printf ("stopped\n");
	return 0;
}
