/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes seeds for fuzz-worker-proto into DIR: messages as a worker sends them, made with
 * the worker's own encoders (a progress report, a success with its details, a failure).
 * Run by make-corpus.sh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "mu-error.h"
#include "mu-worker-proto.h"

static void
write_seed (const gchar *dir, const gchar *name, GBytes *bytes)
{
	g_autofree gchar *path = g_build_filename (dir, name, NULL);
	g_autoptr (GError) error = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data (bytes, &len);

	if (!g_file_set_contents (path, data, (gssize) len, &error))
		g_error ("%s", error->message);
}

int
main (int argc, char **argv)
{
	MuProgressState progress = {
		.phase = MU_PHASE_APPLY,
		.percentage = 42,
		.bytes_done = 1 << 20,
		.bytes_total = 3 << 20,
		.items_done = 1,
		.items_total = 3,
	};
	static const gint32 slots[] = { 0, 1 };
	static const gchar *const ids[] = { "main-2026", "fallback-1", NULL };
	g_autoptr (GVariantBuilder) details = g_variant_builder_new (G_VARIANT_TYPE ("a{sv}"));
	g_autoptr (GError) failure = NULL;
	g_autoptr (GBytes) bytes = NULL;

	if (argc != 2) {
		fprintf (stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	bytes = mu_worker_message_new_progress (&progress);
	write_seed (argv[1], "progress", bytes);
	g_clear_pointer (&bytes, g_bytes_unref);

	g_variant_builder_add (details, "{sv}", "to-commit",
			       g_variant_new_string ("0b2ed3ab0b7bd21cb1b3c3bf4c95d4e3a5e6c0b1e8"
						     "d7a6f5e4d3c2b1a0f9e8d7"));
	g_variant_builder_add (details, "{sv}", "version", g_variant_new_string ("2.1"));
	g_variant_builder_add (details, "{sv}", "timestamp", g_variant_new_uint64 (1767225600));
	g_variant_builder_add (details, "{sv}", "keyslot", g_variant_new_int32 (1));
	g_variant_builder_add (details, "{sv}", "keyslots",
			       g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, slots,
							  G_N_ELEMENTS (slots), sizeof (slots[0])));
	g_variant_builder_add (details, "{sv}", "key_ids", g_variant_new_strv (ids, -1));
	bytes = mu_worker_message_new_result (NULL, g_variant_builder_end (details));
	write_seed (argv[1], "result-success", bytes);
	g_clear_pointer (&bytes, g_bytes_unref);

	failure = g_error_new_literal (MU_ERROR, MU_ERROR_SIGNATURE_INVALID,
				       "verify: none of the 1 signature(s) verifies");
	bytes = mu_worker_message_new_result (failure, NULL);
	write_seed (argv[1], "result-failure", bytes);
	return EXIT_SUCCESS;
}
