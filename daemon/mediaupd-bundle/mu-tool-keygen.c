/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-tool.h"

#define LUKS_KEY_DEFAULT_LEN 64

static const gchar keygen_description[] =
	"Makes new keys; never overwrites an existing file.\n"
	"\n"
	"  --signing PREFIX  an ed25519 key pair in OSTree's formats:\n"
	"                    PREFIX.secret  base64 of seed||public key (64 bytes), mode 0600;\n"
	"                                   for the CI signer only (mediaupd-bundle sign --key)\n"
	"                    PREFIX.pub     base64 public key (32 bytes), one line, mode 0644;\n"
	"                                   for devices, e.g. /etc/ostree/trusted.ed25519.d/\n"
	"  --luks FILE       a random LUKS key (--size bytes, default 64, at least 32),\n"
	"                    mode 0600; on the device it is /etc/mediaupd/keys/ID.key and the\n"
	"                    bundle maker takes it as --key ID=FILE\n"
	"\n"
	"Exit status: 0 written, 1 failed, 2 usage error.";

static int
keygen_signing (const gchar *prefix)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *secret_path = g_strconcat (prefix, ".secret", NULL);
	g_autofree gchar *public_path = g_strconcat (prefix, ".pub", NULL);
	g_autoptr (MuEd25519SecretKey) secret = NULL;
	g_autoptr (GBytes) secret_text = NULL;
	g_autoptr (GBytes) public_text = NULL;
	MuEd25519Key *public_key;

	for (guint i = 0; i < 2; i++) {
		const gchar *path = i == 0 ? secret_path : public_path;

		if (mu_tool_path_exists (path)) {
			g_printerr ("%s: '%s' already exists; refusing to overwrite a key (remove "
				    "it or choose another PREFIX)\n",
				    g_get_prgname (), path);
			return MU_TOOL_EXIT_FAILURE;
		}
	}
	secret = mu_ed25519_secret_key_generate (&error);
	if (secret == NULL)
		return mu_tool_fail (NULL, error);
	public_key = mu_ed25519_secret_key_get_public (secret);
	secret_text = mu_ed25519_secret_key_to_file_contents (secret);
	public_text = mu_ed25519_key_to_file_contents (public_key);

	if (!mu_tool_write_file_atomic (secret_path, g_bytes_get_data (secret_text, NULL),
					g_bytes_get_size (secret_text), 0600, FALSE, &error))
		return mu_tool_fail (NULL, error);
	if (!mu_tool_write_file_atomic (public_path, g_bytes_get_data (public_text, NULL),
					g_bytes_get_size (public_text), 0644, FALSE, &error)) {
		/* No half key pair: remove the secret just written. */
		(void) g_unlink (secret_path);
		return mu_tool_fail (NULL, error);
	}
	g_print ("Wrote the secret key '%s' (mode 0600): keep it secret, give it to the signer\n"
		 "Wrote the public key '%s': %s\n"
		 "Install the public key on devices in /etc/ostree/trusted.ed25519.d/\n",
		 secret_path, public_path, mu_ed25519_key_get_id (public_key));
	return MU_TOOL_EXIT_OK;
}

static int
keygen_luks (const gchar *path, gint size)
{
	g_autoptr (GError) error = NULL;
	guint8 *key;
	gboolean ok;

	if (size < MU_LUKS_KEY_MIN_LEN || size > MU_LUKS_KEY_MAX_LEN)
		return mu_tool_usage_error (
			"--size %d is out of range; a LUKS key is %d to %d bytes", size,
			MU_LUKS_KEY_MIN_LEN, MU_LUKS_KEY_MAX_LEN);
	if (mu_tool_path_exists (path)) {
		g_printerr ("%s: '%s' already exists; refusing to overwrite a key (remove it or "
			    "choose another name)\n",
			    g_get_prgname (), path);
		return MU_TOOL_EXIT_FAILURE;
	}
	key = g_malloc ((gsize) size);
	if (RAND_priv_bytes (key, size) != 1) {
		ERR_clear_error ();
		g_free (key);
		g_printerr ("%s: the random number generator failed; no key was written\n",
			    g_get_prgname ());
		return MU_TOOL_EXIT_FAILURE;
	}
	ok = mu_tool_write_file_atomic (path, key, (gsize) size, 0600, FALSE, &error);
	OPENSSL_cleanse (key, (gsize) size);
	g_free (key);
	if (!ok)
		return mu_tool_fail (NULL, error);
	g_print ("Wrote a random %d-byte LUKS key to '%s' (mode 0600)\n", size, path);
	return MU_TOOL_EXIT_OK;
}

int
mu_tool_cmd_keygen (int argc, char **argv)
{
	g_autofree gchar *signing = NULL;
	g_autofree gchar *luks = NULL;
	gint size = -1;
	GOptionEntry entries[] = {
		{ "signing", 0, 0, G_OPTION_ARG_FILENAME, &signing,
		  "Make an ed25519 key pair PREFIX.secret and PREFIX.pub", "PREFIX" },
		{ "luks", 0, 0, G_OPTION_ARG_FILENAME, &luks, "Make a random LUKS key in FILE",
		  "FILE" },
		{ "size", 0, 0, G_OPTION_ARG_INT, &size,
		  "Length of the LUKS key in bytes (default 64)", "N" },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new (
		"(--signing PREFIX | --luks FILE)");

	g_option_context_set_summary (context, "Make a signing key pair or a LUKS key.");
	g_option_context_set_description (context, keygen_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (argc > 1)
		return mu_tool_usage_error ("unexpected argument '%s'", argv[1]);
	if ((signing == NULL) == (luks == NULL))
		return mu_tool_usage_error ("give exactly one of --signing PREFIX or --luks FILE");
	if (signing != NULL && size != -1)
		return mu_tool_usage_error ("--size applies to --luks only");
	if (signing != NULL) {
		if (*signing == '\0')
			return mu_tool_usage_error ("--signing needs a non-empty PREFIX");
		return keygen_signing (signing);
	}
	if (*luks == '\0')
		return mu_tool_usage_error ("--luks needs a non-empty FILE");
	return keygen_luks (luks, size == -1 ? LUKS_KEY_DEFAULT_LEN : size);
}
