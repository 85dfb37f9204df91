/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `mediaupdctl keys list|seal`: the device keys of [Keys] Directories=, in this process as
 * root, not through the daemon: sealing needs systemd-creds and the key directories, which
 * the daemon's sandbox keeps read-only, and neither command should be reachable over the
 * bus. Neither prints key bytes: list reads no key at all, seal reports ids and paths.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "mu-config.h"
#include "mu-credentials.h"
#include "mu-ctl.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-json.h"
#include "mu-key.h"

typedef struct {
	gchar *id;
	gchar *path;
	gboolean sealed;
	MuCredentialSeal seal;
} KeyFile;

static void
key_file_free (KeyFile *kf)
{
	g_free (kf->id);
	g_free (kf->path);
	g_free (kf);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KeyFile, key_file_free)

static gint
compare_key_files (gconstpointer a, gconstpointer b)
{
	const KeyFile *ka = *(const KeyFile *const *) a;
	const KeyFile *kb = *(const KeyFile *const *) b;
	gint c = g_strcmp0 (ka->id, kb->id);

	return c != 0 ? c : g_strcmp0 (ka->path, kb->path);
}

/* The ID.key and ID.cred files of @dir (no other file is looked at, none is read but a
 * credential's header). */
static void
scan_dir (const gchar *dir_path, GPtrArray *files)
{
	g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
	g_autoptr (GPtrArray) here = g_ptr_array_new ();
	const gchar *name;

	if (dir == NULL)
		return;
	while ((name = g_dir_read_name (dir)) != NULL) {
		g_autoptr (KeyFile) kf = g_new0 (KeyFile, 1);
		const gchar *suffix;

		if (g_str_has_suffix (name, ".key"))
			suffix = ".key";
		else if (g_str_has_suffix (name, MU_CREDENTIAL_SUFFIX))
			suffix = MU_CREDENTIAL_SUFFIX;
		else
			continue;
		kf->id = g_strndup (name, strlen (name) - strlen (suffix));
		if (!mu_key_id_is_valid (kf->id))
			continue;
		kf->path = g_build_filename (dir_path, name, NULL);
		kf->sealed = g_str_equal (suffix, MU_CREDENTIAL_SUFFIX);
		if (kf->sealed)
			kf->seal = mu_credential_seal_of_file (kf->path);
		g_ptr_array_add (here, g_steal_pointer (&kf));
	}
	g_ptr_array_sort (here, compare_key_files);
	for (guint i = 0; i < here->len; i++)
		g_ptr_array_add (files, here->pdata[i]);
}

static GPtrArray *
scan_dirs (const MuConfig *config)
{
	GPtrArray *files = g_ptr_array_new_with_free_func ((GDestroyNotify) key_file_free);

	for (guint i = 0; config->key_dirs != NULL && config->key_dirs[i] != NULL; i++)
		scan_dir (config->key_dirs[i], files);
	return files;
}

static void
print_json_line (MuCtlOut *out, JsonBuilder *builder)
{
	g_autofree gchar *text = mu_json_builder_to_line (builder);

	mu_ctl_out_printf (out, "%s\n", text);
}

static int
keys_list (MuCtlOut *out, const MuConfig *config)
{
	g_autoptr (GPtrArray) files = scan_dirs (config);
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	if (!out->json && files->len == 0) {
		g_autofree gchar *where = g_strjoinv (", ", config->key_dirs);

		mu_ctl_out_printf (out, "No device keys in %s.\n",
				   mu_escape_untrusted_in (pool, where));
		return MU_CTL_EXIT_OK;
	}
	if (!out->json)
		mu_ctl_out_printf (out, "%-24s %-7s %-10s %s\n", "ID", "STORED", "SEAL", "PATH");
	for (guint i = 0; i < files->len; i++) {
		const KeyFile *kf = files->pdata[i];
		const gchar *stored = kf->sealed ? "sealed" : "plain";
		const gchar *seal = kf->sealed ? mu_credential_seal_to_string (kf->seal) : "-";

		if (out->json) {
			g_autoptr (JsonBuilder) b = json_builder_new ();

			json_builder_begin_object (b);
			mu_json_builder_add_string_member (b, "event", "key");
			mu_json_builder_add_text_member (b, "id", kf->id);
			mu_json_builder_add_text_member (b, "path", kf->path);
			mu_json_builder_add_string_member (b, "stored", stored);
			if (kf->sealed)
				mu_json_builder_add_string_member (b, "seal", seal);
			json_builder_end_object (b);
			print_json_line (out, b);
		} else {
			mu_ctl_out_printf (out, "%-24s %-7s %-10s %s\n", kf->id, stored, seal,
					   mu_escape_untrusted_in (pool, kf->path));
		}
	}
	return MU_CTL_EXIT_OK;
}

static void
report_seal (MuCtlOut *out, const KeyFile *kf, const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *dir = g_path_get_dirname (kf->path);
	g_autofree gchar *cred_name = g_strconcat (kf->id, MU_CREDENTIAL_SUFFIX, NULL);
	g_autofree gchar *cred_path = g_build_filename (dir, cred_name, NULL);
	MuErrorCode code = error == NULL               ? MU_ERROR_FAILED
			   : error->domain == MU_ERROR ? (MuErrorCode) error->code
						       : MU_ERROR_FAILED;

	if (out->json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();

		json_builder_begin_object (b);
		mu_json_builder_add_string_member (b, "event", "sealed");
		mu_json_builder_add_boolean_member (b, "success", error == NULL);
		mu_json_builder_add_text_member (b, "id", kf->id);
		mu_json_builder_add_text_member (b, "path", error == NULL ? cred_path : kf->path);
		if (error == NULL) {
			mu_json_builder_add_string_member (b, "seal",
							   mu_credential_seal_to_string (
								   mu_credential_seal_of_file (
									   cred_path)));
		} else {
			mu_json_builder_add_string_member (b, "error",
							   mu_error_code_to_name (code));
			mu_json_builder_add_text_member (b, "message", error->message);
		}
		json_builder_end_object (b);
		print_json_line (out, b);
		return;
	}
	if (error != NULL) {
		g_printerr ("Sealing %s failed (%s): %s\n", kf->id, mu_error_code_to_name (code),
			    mu_escape_untrusted_in (pool, error->message));
		return;
	}
	mu_ctl_out_printf (out, "Sealed %s (%s, %s); the plain key file is removed.\n", kf->id,
			   mu_escape_untrusted_in (pool, cred_path),
			   mu_credential_seal_to_string (mu_credential_seal_of_file (cred_path)));
}

static int
keys_seal (MuCtlOut *out, const MuConfig *config, const gchar *with_key, const gchar *const *ids)
{
	g_autoptr (GPtrArray) files = scan_dirs (config);
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	gboolean failed = FALSE;
	guint sealed = 0;

	for (guint i = 0; ids != NULL && ids[i] != NULL; i++) {
		gboolean found = FALSE;

		for (guint j = 0; j < files->len && !found; j++) {
			const KeyFile *kf = files->pdata[j];

			found = !kf->sealed && g_str_equal (kf->id, ids[i]);
		}
		if (!found) {
			g_autofree gchar *where = g_strjoinv (", ", config->key_dirs);

			g_printerr ("No plain key file %s.key in %s ('mediaupdctl keys list' "
				    "shows the keys).\n",
				    mu_escape_untrusted_in (pool, ids[i]),
				    mu_escape_untrusted_in (pool, where));
			return MU_CTL_EXIT_FAILED;
		}
	}
	for (guint i = 0; i < files->len; i++) {
		const KeyFile *kf = files->pdata[i];
		g_autofree gchar *dir = NULL;
		g_autoptr (GError) error = NULL;

		if (kf->sealed || (ids != NULL && ids[0] != NULL &&
				   !g_strv_contains ((const gchar *const *) ids, kf->id)))
			continue;
		dir = g_path_get_dirname (kf->path);
		if (mu_credential_seal_key_file (dir, kf->id, with_key, &error))
			sealed++;
		else
			failed = TRUE;
		report_seal (out, kf, error);
	}
	if (!out->json && sealed == 0 && !failed)
		mu_ctl_out_line (out, "No plain key file to seal.");
	return failed ? MU_CTL_EXIT_FAILED : MU_CTL_EXIT_OK;
}

static const gchar keys_description[] =
	"list: every device key file of [Keys] Directories=, in their order: its id, whether\n"
	"it is sealed (ID.cred, a systemd credential) or plain (ID.key), what a sealed one is\n"
	"bound to (host, tpm2, host+tpm2) and its path. No key is read or printed.\n"
	"\n"
	"seal: turns the plain key files ID.key (every one, or those of the IDs given) into\n"
	"credentials ID.cred in the same directory with systemd-creds, bound to --with-key\n"
	"(auto: the TPM2 and the host key where a TPM2 is there, the host key otherwise),\n"
	"and removes the plain files, key by key: the credential is written, flushed and\n"
	"checked to decrypt to the same key before the plain file goes, so that a crash leaves\n"
	"a usable key. Run it on the device itself: a credential decrypts only there.\n"
	"As root.\n\n" MU_CTL_EXIT_HELP;

int
mu_ctl_cmd_keys (int argc, char **argv)
{
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *with_key = NULL;
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "with-key", 0, 0, G_OPTION_ARG_STRING, &with_key,
		  "seal: bind to host, tpm2, host+tpm2 or auto (the default)", "KIND" },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Read the key directories from this configuration instead of " MU_CONFIG_DEFAULT_PATH,
		  "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON line per key", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = NULL;
	g_autoptr (MuConfig) config = NULL;
	g_autoptr (GError) error = NULL;
	const gchar *usage = "mediaupdctl keys list [--json] [--config FILE]\n"
			     "       mediaupdctl keys seal [--with-key=host|tpm2|host+tpm2|auto] "
			     "[--json] [--config FILE] [ID...]";
	MuCtlOut out;

	ctx = g_option_context_new (
		"list | seal [ID...] - the device keys and how they are stored");
	g_option_context_add_main_entries (ctx, entries, NULL);
	g_option_context_set_description (ctx, keys_description);
	if (!mu_ctl_parse_options (ctx, &argc, &argv, -1, usage))
		return MU_CTL_EXIT_USAGE;
	/* argv[0] is "keys". */
	if (argc < 2 || (!g_str_equal (argv[1], "list") && !g_str_equal (argv[1], "seal"))) {
		g_printerr ("Give list or seal.\nUsage: %s\n", usage);
		return MU_CTL_EXIT_USAGE;
	}
	if (g_str_equal (argv[1], "list") && (argc > 2 || with_key != NULL)) {
		g_printerr ("list takes no key ids and no --with-key.\nUsage: %s\n", usage);
		return MU_CTL_EXIT_USAGE;
	}
	if (with_key != NULL && !mu_credential_with_key_is_valid (with_key)) {
		g_autofree gchar *shown = mu_escape_untrusted (with_key);

		g_printerr ("--with-key=%s: use host, tpm2, host+tpm2 or auto.\nUsage: %s\n", shown,
			    usage);
		return MU_CTL_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (!mu_key_id_is_valid (argv[i])) {
			g_autofree gchar *shown = mu_escape_untrusted (argv[i]);

			g_printerr ("'%s' is no key id: 1 to %d characters of A-Z a-z 0-9 . _ -, "
				    "not starting with '.'.\nUsage: %s\n",
				    shown, MU_KEY_ID_MAX_LEN, usage);
			return MU_CTL_EXIT_USAGE;
		}
	}
	mu_ctl_out_init (&out, json);
	config = mu_config_new_from_file (config_path != NULL ? config_path
							      : MU_CONFIG_DEFAULT_PATH,
					  config_path == NULL, &error);
	if (config == NULL) {
		g_autofree gchar *message = mu_escape_untrusted (error->message);

		g_printerr ("%s\n", message);
		return MU_CTL_EXIT_USAGE;
	}
	if (g_str_equal (argv[1], "list"))
		return keys_list (&out, config);
	return keys_seal (&out, config, with_key != NULL ? with_key : "auto",
			  (const gchar *const *) (argv + 2));
}
