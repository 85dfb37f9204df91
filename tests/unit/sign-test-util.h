/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by the ed25519 and signed-delta tests. */

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

/* Removes @path and, for a directory, everything below it. */
static inline void
sign_test_rm_rf (const gchar *path)
{
	g_autoptr (GDir) dir = NULL;
	const gchar *name;

	if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
		dir = g_dir_open (path, 0, NULL);
		while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
			g_autofree gchar *child = g_build_filename (path, name, NULL);

			sign_test_rm_rf (child);
		}
		g_rmdir (path);
		return;
	}
	g_unlink (path);
}

static inline gchar *
sign_test_make_tmpdir (void)
{
	g_autoptr (GError) error = NULL;
	gchar *dir = g_dir_make_tmp ("mu-sign-test-XXXXXX", &error);

	g_assert_no_error (error);
	return dir;
}

static inline void
sign_test_write (const gchar *path, const gchar *text)
{
	g_autoptr (GError) error = NULL;

	g_file_set_contents (path, text, -1, &error);
	g_assert_no_error (error);
}

static inline GBytes *
sign_test_bytes (const gchar *text)
{
	return g_bytes_new (text, strlen (text));
}

/* Raw bytes from a hex string (test vectors). */
static inline GBytes *
sign_test_hex (const gchar *hex)
{
	gsize len = strlen (hex) / 2;
	guint8 *buf = g_malloc (len + 1);

	g_assert_cmpuint (strlen (hex) % 2, ==, 0);
	for (gsize i = 0; i < len; i++) {
		gint hi = g_ascii_xdigit_value (hex[2 * i]);
		gint lo = g_ascii_xdigit_value (hex[2 * i + 1]);

		g_assert_true (hi >= 0 && lo >= 0);
		buf[i] = (guint8) (hi << 4 | lo);
	}
	return g_bytes_new_take (buf, len);
}

/* The base64 text of @bytes followed by a newline. */
static inline gchar *
sign_test_b64_line (GBytes *bytes)
{
	gsize len;
	const guint8 *data = g_bytes_get_data (bytes, &len);
	g_autofree gchar *b64 = g_base64_encode (data, len);

	return g_strconcat (b64, "\n", NULL);
}
