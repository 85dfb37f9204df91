/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>

#include <gio/gio.h>

#include "mu-error.h"

/* Every code has its own, distinct D-Bus name: clients tell refusals apart by it. */
static void
test_error_names_unique (void)
{
	g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

	for (guint i = 0; i < MU_ERROR_LAST; i++) {
		const gchar *name = mu_error_code_to_name (i);

		g_assert_nonnull (name);
		g_assert_true (g_dbus_is_member_name (name));
		g_assert_false (g_hash_table_contains (seen, name));
		g_hash_table_add (seen, (gpointer) name);
	}
	g_assert_cmpuint (g_hash_table_size (seen), ==, MU_ERROR_LAST);
	g_assert_cmpstr (mu_error_code_to_name (MU_ERROR_SIGNATURE_INVALID), ==,
			 "SignatureInvalid");
	g_assert_cmpstr (mu_error_code_to_name (MU_ERROR_LAST + 5), ==, "Failed");
}

/* errno values of failed system calls: the few with a meaning of their own, Io otherwise. */
static void
test_error_from_errno (void)
{
	static const struct {
		int err;
		MuErrorCode code;
	} cases[] = {
		{ ENOENT, MU_ERROR_NOT_FOUND },
		{ ENOSPC, MU_ERROR_NO_SPACE },
		{ EDQUOT, MU_ERROR_NO_SPACE },
		{ ECANCELED, MU_ERROR_CANCELLED },
		{ EIO, MU_ERROR_IO },
		{ EACCES, MU_ERROR_IO },
		{ EBUSY, MU_ERROR_IO },
		{ ELOOP, MU_ERROR_IO },
		{ 0, MU_ERROR_IO },
		{ 100000, MU_ERROR_IO },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_test_message ("errno %d", cases[i].err);
		g_assert_cmpint (mu_error_code_from_errno (cases[i].err), ==, cases[i].code);
	}
}

/* Errors of GLib and GIO: mapped where MU_ERROR has the same meaning, left alone (FALSE,
 * the output untouched) where it has none. */
static void
test_error_from_gerror (void)
{
	static const struct {
		const gchar *domain;
		gint code;
		gboolean mapped;
		MuErrorCode want;
	} cases[] = {
		{ "gio", G_IO_ERROR_NOT_FOUND, TRUE, MU_ERROR_NOT_FOUND },
		{ "gio", G_IO_ERROR_NO_SPACE, TRUE, MU_ERROR_NO_SPACE },
		{ "gio", G_IO_ERROR_CANCELLED, TRUE, MU_ERROR_CANCELLED },
		{ "gio", G_IO_ERROR_FAILED, FALSE, 0 },
		{ "gio", G_IO_ERROR_PERMISSION_DENIED, FALSE, 0 },
		{ "gio", G_IO_ERROR_BUSY, FALSE, 0 },
		{ "file", G_FILE_ERROR_NOENT, TRUE, MU_ERROR_NOT_FOUND },
		{ "file", G_FILE_ERROR_NOSPC, TRUE, MU_ERROR_NO_SPACE },
		{ "file", G_FILE_ERROR_ACCES, FALSE, 0 },
		{ "mu", MU_ERROR_SIGNATURE_INVALID, TRUE, MU_ERROR_SIGNATURE_INVALID },
		{ "mu", MU_ERROR_FAILED, TRUE, MU_ERROR_FAILED },
		{ "other", G_IO_ERROR_NOT_FOUND, FALSE, 0 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		GQuark domain = g_quark_from_static_string ("mu-test-other-error");
		g_autoptr (GError) error = NULL;
		MuErrorCode code = MU_ERROR_LAST;

		if (g_str_equal (cases[i].domain, "gio"))
			domain = G_IO_ERROR;
		else if (g_str_equal (cases[i].domain, "file"))
			domain = G_FILE_ERROR;
		else if (g_str_equal (cases[i].domain, "mu"))
			domain = MU_ERROR;
		error = g_error_new_literal (domain, cases[i].code, "x");
		g_test_message ("%s %d", cases[i].domain, cases[i].code);
		g_assert_cmpint (mu_error_code_from_gerror (error, &code), ==, cases[i].mapped);
		g_assert_cmpint (code, ==, cases[i].mapped ? cases[i].want : MU_ERROR_LAST);
	}
}

/* The message says what failed and why; the code follows errno. */
static void
test_error_set_errno (void)
{
	g_autoptr (GError) missing = NULL;
	g_autoptr (GError) full = NULL;
	g_autoptr (GError) io = NULL;
	g_autofree gchar *want = g_strdup_printf ("cannot open 'a.key': %s", g_strerror (ENOENT));

	mu_error_set_errno (&missing, ENOENT, "cannot open '%s'", "a.key");
	g_assert_error (missing, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_assert_cmpstr (missing->message, ==, want);
	mu_error_set_errno (&full, ENOSPC, "cannot write %s", "part 0");
	g_assert_error (full, MU_ERROR, MU_ERROR_NO_SPACE);
	g_assert_true (g_str_has_prefix (full->message, "cannot write part 0: "));
	mu_error_set_errno (&io, EIO, "cannot read");
	g_assert_error (io, MU_ERROR, MU_ERROR_IO);
	/* Like g_set_error: NULL is allowed. */
	mu_error_set_errno (NULL, EIO, "ignored");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/error/names-unique", test_error_names_unique);
	g_test_add_func ("/error/from-errno", test_error_from_errno);
	g_test_add_func ("/error/from-gerror", test_error_from_gerror);
	g_test_add_func ("/error/set-errno", test_error_set_errno);
	return g_test_run ();
}
