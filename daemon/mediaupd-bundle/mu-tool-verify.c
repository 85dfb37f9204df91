/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-keyring.h"
#include "mu-signed-delta.h"
#include "mu-tool.h"

static const gchar verify_description[] =
	"Checks the ed25519 signatures of a signed static-delta superblock, as a device\n"
	"does: it verifies if a signature was made by a trusted key that is not revoked.\n"
	"Key files are OSTree's: one base64 public key per line. A DIR means every regular\n"
	"file in it (like trusted.ed25519.d/). Revoked keys always apply.\n"
	"\n"
	"Prints the id (base64 public key) and origin of the key that verified, or why\n"
	"the file was refused and the error name (Unsigned, SignatureInvalid, KeyRevoked,\n"
	"NoTrustedKeys, CorruptDelta, InvalidKey, NotFound, ...).\n"
	"\n"
	"Exit status: 0 verified, 1 refused or failed, 2 usage error.";

static MuKeyring *
load_keyring (gchar **trusted, gchar **revoked, GError **error)
{
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();

	for (guint i = 0; trusted[i] != NULL; i++) {
		if (!mu_keyring_load_trusted (keyring, trusted[i], error))
			return NULL;
	}
	for (guint i = 0; revoked != NULL && revoked[i] != NULL; i++) {
		if (!mu_keyring_load_revoked (keyring, revoked[i], error))
			return NULL;
	}
	return g_steal_pointer (&keyring);
}

static int
refuse (const gchar *path, const GError *error)
{
	g_autofree gchar *prefix = g_strdup_printf ("REFUSED '%s': ", path);

	return mu_tool_fail (prefix, error);
}

static int
verify_file (gchar **trusted, gchar **revoked, const gchar *path)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuKeyring) keyring = NULL;
	g_autoptr (GBytes) data = NULL;
	g_autoptr (MuSignedDelta) delta = NULL;
	g_autoptr (MuEd25519Key) key = NULL;

	keyring = load_keyring (trusted, revoked, &error);
	if (keyring == NULL)
		return refuse (path, error);
	data = mu_file_read_regular (path, MU_SIGNED_DELTA_MAX_SIZE, MU_FILE_NONE,
				     MU_ERROR_INVALID_ARGUMENT, &error);
	if (data == NULL)
		return refuse (path, error);
	delta = mu_signed_delta_parse (data, &error);
	if (delta == NULL || !mu_signed_delta_verify (delta, keyring, &key, &error))
		return refuse (path, error);

	g_print ("VERIFIED '%s': signed by trusted key %s (%s)\n", path,
		 mu_ed25519_key_get_id (key), mu_ed25519_key_get_origin (key));
	g_print ("superblock: %" G_GSIZE_FORMAT " bytes, %u signature(s)\n",
		 g_bytes_get_size (mu_signed_delta_get_superblock (delta)),
		 mu_signed_delta_get_n_signatures (delta));
	return MU_TOOL_EXIT_OK;
}

int
mu_tool_cmd_verify (int argc, char **argv)
{
	g_auto (GStrv) trusted = NULL;
	g_auto (GStrv) revoked = NULL;
	GOptionEntry entries[] = {
		{ "trusted", 't', 0, G_OPTION_ARG_FILENAME_ARRAY, &trusted,
		  "Trusted public key file or directory (repeatable)", "FILE|DIR" },
		{ "revoked", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &revoked,
		  "Revoked public key file or directory (repeatable)", "FILE|DIR" },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new (
		"--trusted FILE|DIR [--trusted ...] [--revoked FILE|DIR ...] SIGNED_SUPERBLOCK");

	g_option_context_set_summary (context, "Verify a signed static-delta superblock.");
	g_option_context_set_description (context, verify_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (trusted == NULL)
		return mu_tool_usage_error ("give the trusted public keys with --trusted FILE|DIR");
	if (argc != 2)
		return mu_tool_usage_error ("give exactly one argument, SIGNED_SUPERBLOCK");
	return verify_file (trusted, revoked, argv[1]);
}
