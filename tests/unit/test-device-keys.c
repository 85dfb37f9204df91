/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <sys/prctl.h>

#include <glib/gstdio.h>

#include "mu-device-keys.h"
#include "mu-error.h"

static void
write_key (const gchar *dir, const gchar *name, guint8 fill, gsize len, int mode)
{
	g_autofree gchar *path = g_build_filename (dir, name, NULL);
	g_autofree guint8 *data = g_malloc (len);

	memset (data, fill, len);
	g_assert_true (g_file_set_contents_full (path, (const gchar *) data, (gssize) len,
						 G_FILE_SET_CONTENTS_NONE, mode, NULL));
	g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static void
test_device_keys (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *root = g_dir_make_tmp ("mu-keys-XXXXXX", &error);
	g_autofree gchar *usr = g_build_filename (root, "usr", NULL);
	g_autofree gchar *etc = g_build_filename (root, "etc", NULL);
	g_autofree gchar *missing = g_build_filename (root, "missing", NULL);
	const gchar *dirs[] = { usr, missing, etc, NULL };
	g_autoptr (GPtrArray) refused = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GPtrArray) keys = NULL;
	const MuKey *k;

	g_assert_no_error (error);
	g_assert_cmpint (g_mkdir (usr, 0700), ==, 0);
	g_assert_cmpint (g_mkdir (etc, 0700), ==, 0);
	write_key (usr, "main-2026.key", 0x11, 32, 0600);
	write_key (usr, "fallback-1.key", 0x22, 64, 0400);
	write_key (etc, "main-2026.key", 0x33, 48, 0600); /* overrides usr's */
	write_key (etc, "leaky.key", 0x44, 32, 0644);     /* readable by others */
	write_key (etc, "short.key", 0x55, 16, 0600);     /* too short */
	write_key (etc, "notes.txt", 0x66, 32, 0600);     /* not a key file */

	/* Refused key files are logged as warnings, which this test provokes on purpose;
	 * the refusals themselves are checked through @refused. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_assert_cmpint (prctl (PR_SET_DUMPABLE, 1, 0, 0, 0), ==, 0);
	keys = mu_device_keys_load (dirs, refused, &error);
	g_assert_no_error (error);
	/* A process holding device keys dumps no core. */
	g_assert_cmpint (prctl (PR_GET_DUMPABLE, 0, 0, 0, 0), ==, 0);
	g_assert_cmpuint (keys->len, ==, 2);
	k = keys->pdata[0];
	g_assert_cmpstr (k->id, ==, "fallback-1");
	g_assert_cmpuint (k->len, ==, 64);
	k = keys->pdata[1];
	g_assert_cmpstr (k->id, ==, "main-2026");
	g_assert_cmpuint (k->len, ==, 48);
	g_assert_cmpuint (k->data[0], ==, 0x33);
	g_assert_cmpuint (refused->len, ==, 2);

	{
		const gchar *only_bad[] = { missing, NULL };
		g_autoptr (GPtrArray) none = mu_device_keys_load (only_bad, NULL, &error);

		g_assert_null (none);
		g_assert_error (error, MU_ERROR, MU_ERROR_NO_KEY);
	}
	for (const gchar *const *d = (const gchar *const[]){ usr, etc, NULL }; *d != NULL; d++) {
		g_autoptr (GDir) dir = g_dir_open (*d, 0, NULL);
		const gchar *name;

		while ((name = g_dir_read_name (dir)) != NULL) {
			g_autofree gchar *p = g_build_filename (*d, name, NULL);
			g_unlink (p);
		}
		g_rmdir (*d);
	}
	g_rmdir (root);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/device-keys/load", test_device_keys);
	return g_test_run ();
}
