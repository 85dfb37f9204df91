/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

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
	g_assert_cmpstr (mu_error_code_to_name (MU_ERROR_SIGNATURE_INVALID), ==, "SignatureInvalid");
	g_assert_cmpstr (mu_error_code_to_name (MU_ERROR_LAST + 5), ==, "Failed");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/error/names-unique", test_error_names_unique);
	return g_test_run ();
}
