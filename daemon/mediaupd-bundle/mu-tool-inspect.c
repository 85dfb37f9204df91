/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <json-glib/json-glib.h>

#include "mu-bundle.h"
#include "mu-error.h"
#include "mu-escape.h"
#include "mu-json.h"
#include "mu-key.h"
#include "mu-tool-inspect.h"
#include "mu-tool.h"

static const gchar inspect_description[] =
	"Reads a bundle's LUKS2 header, which needs no key: format version, keyslots\n"
	"with the key id each one is for, cipher, PBKDF parameters and data size.\n"
	"\n"
	"With --key FILE it also says which keyslot that key opens, as a device would\n"
	"find out: the slot whose token names the key's id first, then every other slot.\n"
	"This is a check only: nothing is decrypted or mapped, so it needs neither root\n"
	"nor device-mapper. The key id is the file name without \".key\".\n"
	"\n"
	"A format v2 bundle also shows its signed header (OS, ref, version, commits,\n"
	"timestamp, sizes, cipher, verity root) without any key; with --trusted FILE\n"
	"(repeatable) it says whether the header verifies and with which key.\n"
	"\n"
	"--json prints the same as one JSON object (on failure: {\"error\": {...}}).\n"
	"\n"
	"Exit status: 0 success (with --key: the key opens a keyslot), 1 the file is not\n"
	"a usable bundle, the key file is bad or the key opens no keyslot, 2 usage error.";

/* The result of --key: what was tried and what opened. */
typedef struct {
	MuKey *key;
	GPtrArray *trials; /* MuKeyTrial* */
	gboolean opened;
	gint slot;
} KeyCheck;

static void
key_check_clear (KeyCheck *check)
{
	g_clear_pointer (&check->key, mu_key_free);
	g_clear_pointer (&check->trials, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KeyCheck, key_check_clear)

static const gchar *
priority_name (gint priority)
{
	switch (priority) {
	case CRYPT_SLOT_PRIORITY_IGNORE:
		return "ignore";
	case CRYPT_SLOT_PRIORITY_NORMAL:
		return "normal";
	case CRYPT_SLOT_PRIORITY_PREFER:
		return "prefer";
	default:
		return "invalid";
	}
}

static gchar *
pbkdf_text (const MuBundleKeyslot *ks)
{
	if (ks->pbkdf_type == NULL)
		return g_strdup ("unknown PBKDF");
	if (ks->pbkdf_hash != NULL)
		return g_strdup_printf ("%s-%s, %u iterations", ks->pbkdf_type, ks->pbkdf_hash,
					ks->pbkdf_iterations);
	return g_strdup_printf ("%s, time cost %u, %u KiB, %u thread%s", ks->pbkdf_type,
				ks->pbkdf_iterations, ks->pbkdf_memory_kib, ks->pbkdf_parallel,
				ks->pbkdf_parallel == 1 ? "" : "s");
}

/* Everything here but the numbers is read from the header: escaped before it is shown. */
#define E(s) mu_escape_untrusted_in (pool, (s))

static void
print_text (MuBundle *bundle, const MuBundleInfo *info, const gchar *path)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *data_size = g_format_size (info->data_size);

	g_print ("Bundle:      %s\n", E (path));
	g_print ("Format:      mediaupd bundle v%u (label '%s', subsystem '%s')\n",
		 info->format_version, E (info->label), E (info->subsystem));
	g_print ("UUID:        %s\n", E (info->uuid));
	g_print ("Cipher:      %s-%s, %u-bit key, %u-byte sectors\n", E (info->cipher),
		 E (info->cipher_mode), info->key_size * 8, info->sector_size);
	g_print ("Data:        %" G_GUINT64_FORMAT " bytes (%s) at offset %" G_GUINT64_FORMAT
		 "%s\n",
		 info->data_size, data_size, info->data_offset,
		 info->data_size_dynamic ? ", to the end of the file" : "");
	g_print ("Keyslots:    %u\n", info->keyslots->len);
	for (guint i = 0; i < info->keyslots->len; i++) {
		const MuBundleKeyslot *ks = g_ptr_array_index (info->keyslots, i);
		g_autofree gchar *pbkdf = pbkdf_text (ks);
		g_autoptr (GString) line = g_string_new (NULL);

		if (ks->key_id != NULL)
			g_string_append_printf (line, "key id '%s'", E (ks->key_id));
		else
			g_string_append (line, "no key id");
		g_string_append_printf (line, "; %s", E (pbkdf));
		if (ks->status == MU_BUNDLE_KEYSLOT_UNBOUND)
			g_string_append (line, "; unbound (opens no data)");
		if (ks->priority != CRYPT_SLOT_PRIORITY_NORMAL)
			g_string_append_printf (line, "; priority %s",
						priority_name (ks->priority));
		if (!mu_pbkdf_limits_allow (mu_bundle_get_pbkdf_limits (bundle), ks))
			g_string_append (line, "; PBKDF over the devices' default limits: "
					       "never tried");
		g_print ("  %2d: %s\n", ks->slot, line->str);
	}
}

static void
print_key_check (const KeyCheck *check)
{
	const MuKeyTrial *last = g_ptr_array_index (check->trials, check->trials->len - 1);

	g_autofree gchar *id = mu_escape_untrusted (check->key->id);

	g_print ("Key '%s' opens keyslot %d (%s; %u attempt%s, the last took %.1f ms)\n", id,
		 check->slot, last->hinted ? "the slot its token names" : "found by trying",
		 check->trials->len, check->trials->len == 1 ? "" : "s",
		 (gdouble) last->duration_us / 1000.0);
}

/* A string member from the header (escaped: it is the bundle maker's text), or null. */
static void
add_text (JsonBuilder *b, const gchar *name, const gchar *value)
{
	g_autofree gchar *escaped = value != NULL ? mu_escape_untrusted (value) : NULL;

	mu_json_builder_add_string_member (b, name, escaped);
}

static void
add_int (JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name (b, name);
	json_builder_add_int_value (b, value);
}

static void
add_pbkdf (JsonBuilder *b, const MuBundleKeyslot *ks)
{
	json_builder_set_member_name (b, "pbkdf");
	json_builder_begin_object (b);
	add_text (b, "type", ks->pbkdf_type);
	add_text (b, "hash", ks->pbkdf_hash);
	json_builder_set_member_name (b, "iterations");
	json_builder_add_int_value (b, ks->pbkdf_iterations);
	json_builder_set_member_name (b, "memory_kib");
	json_builder_add_int_value (b, ks->pbkdf_memory_kib);
	json_builder_set_member_name (b, "parallel");
	json_builder_add_int_value (b, ks->pbkdf_parallel);
	json_builder_end_object (b);
}

static void
add_keyslots (JsonBuilder *b, MuBundle *bundle, const MuBundleInfo *info)
{
	json_builder_set_member_name (b, "keyslots");
	json_builder_begin_array (b);
	for (guint i = 0; i < info->keyslots->len; i++) {
		const MuBundleKeyslot *ks = g_ptr_array_index (info->keyslots, i);

		json_builder_begin_object (b);
		json_builder_set_member_name (b, "slot");
		json_builder_add_int_value (b, ks->slot);
		json_builder_set_member_name (b, "status");
		json_builder_add_string_value (b, ks->status == MU_BUNDLE_KEYSLOT_UNBOUND
							  ? "unbound"
							  : "active");
		json_builder_set_member_name (b, "priority");
		json_builder_add_string_value (b, priority_name (ks->priority));
		add_text (b, "key_id", ks->key_id);
		json_builder_set_member_name (b, "token");
		if (ks->token >= 0)
			json_builder_add_int_value (b, ks->token);
		else
			json_builder_add_null_value (b);
		add_pbkdf (b, ks);
		json_builder_set_member_name (b, "within_pbkdf_limits");
		json_builder_add_boolean_value (b,
						mu_pbkdf_limits_allow (mu_bundle_get_pbkdf_limits (
									       bundle),
								       ks));
		json_builder_end_object (b);
	}
	json_builder_end_array (b);
}

static void
add_key_check (JsonBuilder *b, const KeyCheck *check)
{
	json_builder_set_member_name (b, "key");
	json_builder_begin_object (b);
	add_text (b, "id", check->key->id);
	json_builder_set_member_name (b, "opened");
	json_builder_add_boolean_value (b, check->opened);
	json_builder_set_member_name (b, "slot");
	if (check->opened)
		json_builder_add_int_value (b, check->slot);
	else
		json_builder_add_null_value (b);
	json_builder_set_member_name (b, "trials");
	json_builder_begin_array (b);
	for (guint i = 0; i < check->trials->len; i++) {
		const MuKeyTrial *trial = g_ptr_array_index (check->trials, i);

		json_builder_begin_object (b);
		json_builder_set_member_name (b, "slot");
		json_builder_add_int_value (b, trial->slot);
		json_builder_set_member_name (b, "hinted");
		json_builder_add_boolean_value (b, trial->hinted);
		json_builder_set_member_name (b, "result");
		json_builder_add_string_value (b, mu_key_trial_result_to_string (trial->result));
		json_builder_set_member_name (b, "duration_ms");
		json_builder_add_double_value (b, (gdouble) trial->duration_us / 1000.0);
		json_builder_end_object (b);
	}
	json_builder_end_array (b);
	json_builder_end_object (b);
}

static void
print_json_node (JsonNode *root)
{
	g_autoptr (JsonGenerator) generator = json_generator_new ();
	g_autofree gchar *text = NULL;

	json_generator_set_root (generator, root);
	json_generator_set_pretty (generator, TRUE);
	text = json_generator_to_data (generator, NULL);
	g_print ("%s\n", text);
}

static void
print_json (MuBundle *bundle, const MuBundleInfo *info, const gchar *path, const KeyCheck *check)
{
	g_autoptr (JsonBuilder) b = json_builder_new ();
	g_autoptr (JsonNode) root = NULL;

	json_builder_begin_object (b);
	add_text (b, "path", path);
	add_int (b, "format_version", info->format_version);
	add_text (b, "label", info->label);
	add_text (b, "subsystem", info->subsystem);
	add_text (b, "uuid", info->uuid);
	add_text (b, "cipher", info->cipher);
	add_text (b, "cipher_mode", info->cipher_mode);
	add_int (b, "key_size_bits", (gint64) info->key_size * 8);
	add_int (b, "sector_size", info->sector_size);
	add_int (b, "file_size", (gint64) info->file_size);
	add_int (b, "data_offset", (gint64) info->data_offset);
	add_int (b, "data_size", (gint64) info->data_size);
	json_builder_set_member_name (b, "data_size_dynamic");
	json_builder_add_boolean_value (b, info->data_size_dynamic);
	add_keyslots (b, bundle, info);
	if (check != NULL)
		add_key_check (b, check);
	json_builder_end_object (b);
	root = json_builder_get_root (b);
	print_json_node (root);
}

/* Prints the failure (also as JSON on stdout with --json) and returns the exit status. */
static int
fail (const GError *error, gboolean json)
{
	if (json) {
		g_autoptr (JsonBuilder) b = json_builder_new ();
		g_autoptr (JsonNode) root = NULL;

		json_builder_begin_object (b);
		json_builder_set_member_name (b, "error");
		json_builder_begin_object (b);
		add_text (b, "name", mu_error_code_to_name (error->code));
		add_text (b, "message", error->message);
		json_builder_end_object (b);
		json_builder_end_object (b);
		root = json_builder_get_root (b);
		print_json_node (root);
	}
	return mu_tool_fail ("", error);
}

/* --key: which slot the key opens, check-only. FALSE only for errors other than NO_KEY. */
static gboolean
check_key (MuBundle *bundle, KeyCheck *check, GError **error)
{
	g_autoptr (GPtrArray) keys = g_ptr_array_new ();
	g_autoptr (GError) local_error = NULL;

	g_ptr_array_add (keys, check->key);
	check->trials = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_trial_free);
	check->opened = mu_bundle_try_keys (bundle, keys, check->trials, NULL, &check->slot, NULL,
					    &local_error);
	if (!check->opened && !g_error_matches (local_error, MU_ERROR, MU_ERROR_NO_KEY)) {
		g_propagate_error (error, g_steal_pointer (&local_error));
		return FALSE;
	}
	return TRUE;
}

static int
inspect (const gchar *path, const gchar *key_path, gchar **trusted, gboolean json)
{
	g_auto (KeyCheck) check = { 0 };
	g_autoptr (MuBundle) bundle = NULL;
	g_autoptr (GError) error = NULL;
	const MuBundleInfo *info;

	if (mu_tool_inspect_is_v2 (path))
		return mu_tool_inspect_v2 (path, key_path, trusted, json);
	if (trusted != NULL)
		return mu_tool_usage_error ("--trusted applies to format v2 bundles only: a v1 "
					    "bundle's signature is inside its encrypted image");
	if (key_path != NULL) {
		check.key = mu_key_load_file (key_path, MU_KEY_LOAD_NONE, &error);
		if (check.key == NULL)
			return fail (error, json);
	}
	bundle = mu_bundle_open (path, &error);
	if (bundle == NULL)
		return fail (error, json);
	info = mu_bundle_get_info (bundle);
	if (check.key != NULL && !check_key (bundle, &check, &error))
		return fail (error, json);

	if (json)
		print_json (bundle, info, path, check.key != NULL ? &check : NULL);
	else
		print_text (bundle, info, path);
	if (check.key == NULL)
		return MU_TOOL_EXIT_OK;
	if (check.opened) {
		if (!json)
			print_key_check (&check);
		return MU_TOOL_EXIT_OK;
	}
	{
		g_autofree gchar *summary = mu_key_trials_summarize (check.trials, 1024);
		g_autoptr (GError) no_key =
			g_error_new (MU_ERROR, MU_ERROR_NO_KEY,
				     "this key opens no keyslot of '%s' (tried %s)", path, summary);

		return mu_tool_fail ("", no_key);
	}
}

int
mu_tool_cmd_inspect (int argc, char **argv)
{
	g_autofree gchar *key_path = NULL;
	g_auto (GStrv) trusted = NULL;
	gboolean json = FALSE;
	GOptionEntry entries[] = {
		{ "key", 'k', 0, G_OPTION_ARG_FILENAME, &key_path,
		  "Also find the keyslot this raw key file opens (check only)", "FILE" },
		{ "trusted", 't', 0, G_OPTION_ARG_FILENAME_ARRAY, &trusted,
		  "v2: check the signed header against the public keys in FILE (repeatable)",
		  "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new ("BUNDLE");

	g_option_context_set_summary (context, "Show a bundle's header; check a key against it.");
	g_option_context_set_description (context, inspect_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (argc != 2)
		return mu_tool_usage_error ("give exactly one argument, BUNDLE");
	return inspect (argv[1], key_path, trusted, json);
}
