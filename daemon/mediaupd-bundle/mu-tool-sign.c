/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <sys/stat.h>

#include <glib/gstdio.h>

#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-signed-delta.h"
#include "mu-tool.h"

static const gchar sign_description[] =
	"Wraps the unsigned superblock of an OSTree static delta (the file that\n"
	"'ostree static-delta generate --filename=DIR/superblock' writes) in OSTree's signed\n"
	"envelope with one ed25519 signature per --key, exactly as ostree built with ed25519\n"
	"support would. The delta's part files are covered through the checksums in the\n"
	"superblock. Secret keys are read from files only (as 'keygen --signing' writes them).\n"
	"OUTPUT is written atomically; an existing OUTPUT is kept unless --force is given.\n"
	"\n"
	"Exit status: 0 signed, 1 failed, 2 usage error.";

static void
warn_if_readable (const gchar *path)
{
	GStatBuf st;

	if (g_stat (path, &st) == 0 && (st.st_mode & 0077) != 0)
		g_printerr ("%s: warning: the secret key '%s' is accessible to group or others "
			    "(mode %04o); chmod 600 it\n",
			    g_get_prgname (), path, (guint) (st.st_mode & 07777));
}

static int
sign_files (gchar **key_paths, const gchar *input, const gchar *output, gboolean force)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_ed25519_secret_key_free);
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (GBytes) signed_delta = NULL;

	if (!force && mu_tool_path_exists (output)) {
		g_printerr ("%s: '%s' already exists; refusing to overwrite it (remove it or "
			    "add --force)\n",
			    g_get_prgname (), output);
		return MU_TOOL_EXIT_FAILURE;
	}
	for (guint i = 0; key_paths[i] != NULL; i++) {
		MuEd25519SecretKey *key = mu_ed25519_secret_key_load (key_paths[i], &error);

		if (key == NULL)
			return mu_tool_fail ("signing key: ", error);
		warn_if_readable (key_paths[i]);
		g_ptr_array_add (keys, key);
	}
	superblock = mu_file_read_regular (input, MU_SIGNED_DELTA_MAX_SIZE, MU_FILE_NONE,
					   MU_ERROR_INVALID_ARGUMENT, &error);
	if (superblock == NULL)
		return mu_tool_fail ("superblock: ", error);
	signed_delta = mu_signed_delta_sign (superblock, (MuEd25519SecretKey **) keys->pdata,
					     keys->len, &error);
	if (signed_delta == NULL) {
		g_prefix_error (&error, "'%s': ", input);
		return mu_tool_fail (NULL, error);
	}
	if (!mu_tool_write_file_atomic (output, g_bytes_get_data (signed_delta, NULL),
					g_bytes_get_size (signed_delta), 0644, force, &error))
		return mu_tool_fail (NULL, error);

	g_print ("Signed '%s' -> '%s' (%" G_GSIZE_FORMAT " bytes) with %u key(s):\n", input, output,
		 g_bytes_get_size (signed_delta), keys->len);
	for (guint i = 0; i < keys->len; i++) {
		MuEd25519Key *pub = mu_ed25519_secret_key_get_public (keys->pdata[i]);

		g_print ("  %s (%s)\n", mu_ed25519_key_get_id (pub),
			 mu_ed25519_key_get_origin (pub));
	}
	return MU_TOOL_EXIT_OK;
}

int
mu_tool_cmd_sign (int argc, char **argv)
{
	g_auto (GStrv) key_paths = NULL;
	gboolean force = FALSE;
	GOptionEntry entries[] = {
		{ "key", 'k', 0, G_OPTION_ARG_FILENAME_ARRAY, &key_paths,
		  "Secret key file (repeat for several signatures)", "SECRET" },
		{ "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace an existing OUTPUT", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new (
		"--key SECRET [--key SECRET ...] SUPERBLOCK OUTPUT");

	g_option_context_set_summary (context, "Sign a static-delta superblock.");
	g_option_context_set_description (context, sign_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (key_paths == NULL)
		return mu_tool_usage_error ("give at least one secret key with --key SECRET");
	if (argc != 3)
		return mu_tool_usage_error ("give exactly two arguments, SUPERBLOCK and OUTPUT");
	return sign_files (key_paths, argv[1], argv[2], force);
}
