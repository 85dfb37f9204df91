/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `mediaupd-bundle inspect`: the built binary, run on LUKS2 fixtures. */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "test-luks-util.h"

typedef struct {
	gint status;
	gchar *out;
	gchar *err;
} Run;

static void
run_clear (Run *run)
{
	g_free (run->out);
	g_free (run->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs mediaupd-bundle inspect ARGS... (NULL-terminated). */
static void
run_inspect (Run *run, ...)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	const gchar *root = g_getenv ("MEDIAUPD_BUILD_ROOT");
	const gchar *arg;
	va_list ap;

	g_assert_nonnull (root);
	g_ptr_array_add (argv, g_build_filename (root, "daemon", "mediaupd-bundle",
						 "mediaupd-bundle", NULL));
	g_ptr_array_add (argv, g_strdup ("inspect"));
	va_start (ap, run);
	while ((arg = va_arg (ap, const gchar *)) != NULL)
		g_ptr_array_add (argv, g_strdup (arg));
	va_end (ap);
	g_ptr_array_add (argv, NULL);

	proc = g_subprocess_newv ((const gchar *const *) argv->pdata,
				  G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
				  &error);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (proc, NULL, NULL, &run->out, &run->err, &error);
	g_assert_no_error (error);
	g_assert_true (g_subprocess_get_if_exited (proc));
	run->status = g_subprocess_get_exit_status (proc);
	g_test_message ("exit %d\nstdout:\n%s\nstderr:\n%s", run->status, run->out, run->err);
}

static JsonObject *
parse_json (JsonParser *parser, const gchar *text)
{
	g_autoptr (GError) error = NULL;
	JsonNode *root;

	json_parser_load_from_data (parser, text, -1, &error);
	g_assert_no_error (error);
	root = json_parser_get_root (parser);
	g_assert_nonnull (root);
	g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
	return json_node_get_object (root);
}

static void
test_text (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_auto (Run) run = { 0 };

	run_inspect (&run, fx->three, NULL);
	g_assert_cmpint (run.status, ==, 0);
	g_assert_cmpstr (run.err, ==, "");
	g_assert_nonnull (strstr (run.out, "Format:      mediaupd bundle v1 "
					   "(label 'mediaupd-bundle', subsystem 'mediaupd-v1')\n"));
	g_assert_nonnull (strstr (run.out, "Cipher:      aes-xts-plain64, 512-bit key, "
					   "4096-byte sectors\n"));
	g_assert_nonnull (strstr (run.out, "Data:        3145728 bytes"));
	g_assert_nonnull (strstr (run.out, "Keyslots:    3\n"));
	g_assert_nonnull (strstr (run.out, "   0: key id 'main-2026'; pbkdf2-sha256, "
					   "1000 iterations\n"));
	g_assert_nonnull (strstr (run.out, "   1: key id 'fallback-1'; "));
	g_assert_nonnull (strstr (run.out, "   2: key id 'old.v2'; "));
	g_assert_null (strstr (run.out, "opens keyslot"));
}

static void
test_text_no_tokens (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_auto (Run) run = { 0 };

	run_inspect (&run, fx->no_tokens, NULL);
	g_assert_cmpint (run.status, ==, 0);
	g_assert_nonnull (strstr (run.out, "   2: no key id; pbkdf2-sha256, 1000 iterations\n"));
	g_assert_null (strstr (run.out, "key id '"));
}

static void
test_key_opens (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_auto (Run) run = { 0 };
	g_auto (Run) untokened = { 0 };

	run_inspect (&run, "--key", fx->key_paths[1], fx->three, NULL);
	g_assert_cmpint (run.status, ==, 0);
	g_assert_nonnull (strstr (run.out, "Key 'fallback-1' opens keyslot 1 "
					   "(the slot its token names; 1 attempt,"));

	run_inspect (&untokened, "--key", fx->key_paths[2], fx->no_tokens, NULL);
	g_assert_cmpint (untokened.status, ==, 0);
	g_assert_nonnull (strstr (untokened.out, "Key 'old.v2' opens keyslot 2 "
						 "(found by trying; 3 attempts,"));
}

static void
test_key_opens_nothing (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_auto (Run) run = { 0 };

	run_inspect (&run, "--key", fx->wrong_main_path, fx->three, NULL);
	g_assert_cmpint (run.status, ==, 1);
	g_assert_nonnull (strstr (run.err, "this key opens no keyslot"));
	g_assert_nonnull (strstr (run.err, "'main-2026' (its slot 0: wrong key; "
					   "2 other slots: wrong key)"));
	g_assert_nonnull (strstr (run.err, "[NoKey]"));
	g_assert_null (strstr (run.out, "opens keyslot"));
}

static void
test_json (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_auto (Run) run = { 0 };
	JsonObject *obj;
	JsonArray *slots;

	run_inspect (&run, "--json", fx->three, NULL);
	g_assert_cmpint (run.status, ==, 0);
	obj = parse_json (parser, run.out);
	g_assert_cmpint (json_object_get_int_member (obj, "format_version"), ==, 1);
	g_assert_cmpstr (json_object_get_string_member (obj, "label"), ==, "mediaupd-bundle");
	g_assert_cmpstr (json_object_get_string_member (obj, "subsystem"), ==, "mediaupd-v1");
	g_assert_cmpstr (json_object_get_string_member (obj, "cipher"), ==, "aes");
	g_assert_cmpstr (json_object_get_string_member (obj, "cipher_mode"), ==, "xts-plain64");
	g_assert_cmpint (json_object_get_int_member (obj, "key_size_bits"), ==, 512);
	g_assert_cmpint (json_object_get_int_member (obj, "sector_size"), ==, 4096);
	g_assert_cmpint (json_object_get_int_member (obj, "data_offset"), ==, 2 * 1024 * 1024);
	g_assert_cmpint (json_object_get_int_member (obj, "data_size"), ==, 3 * 1024 * 1024);
	g_assert_true (json_object_get_boolean_member (obj, "data_size_dynamic"));
	g_assert_false (json_object_has_member (obj, "key"));
	slots = json_object_get_array_member (obj, "keyslots");
	g_assert_cmpuint (json_array_get_length (slots), ==, 3);
	for (guint i = 0; i < 3; i++) {
		static const gchar *const ids[] = { "main-2026", "fallback-1", "old.v2" };
		JsonObject *slot = json_array_get_object_element (slots, i);
		JsonObject *pbkdf = json_object_get_object_member (slot, "pbkdf");

		g_assert_cmpint (json_object_get_int_member (slot, "slot"), ==, i);
		g_assert_cmpstr (json_object_get_string_member (slot, "key_id"), ==, ids[i]);
		g_assert_cmpint (json_object_get_int_member (slot, "token"), ==, i);
		g_assert_cmpstr (json_object_get_string_member (slot, "status"), ==, "active");
		g_assert_cmpstr (json_object_get_string_member (pbkdf, "type"), ==, "pbkdf2");
		g_assert_cmpstr (json_object_get_string_member (pbkdf, "hash"), ==, "sha256");
		g_assert_cmpint (json_object_get_int_member (pbkdf, "iterations"), ==, 1000);
		g_assert_true (json_object_get_boolean_member (slot, "within_pbkdf_limits"));
	}
}

static void
test_json_key (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autoptr (JsonParser) wrong_parser = json_parser_new ();
	g_auto (Run) run = { 0 };
	g_auto (Run) wrong = { 0 };
	JsonObject *key;
	JsonArray *trials;
	JsonObject *trial;

	run_inspect (&run, "--json", "--key", fx->key_paths[0], fx->three, NULL);
	g_assert_cmpint (run.status, ==, 0);
	key = json_object_get_object_member (parse_json (parser, run.out), "key");
	g_assert_cmpstr (json_object_get_string_member (key, "id"), ==, "main-2026");
	g_assert_true (json_object_get_boolean_member (key, "opened"));
	g_assert_cmpint (json_object_get_int_member (key, "slot"), ==, 0);
	trials = json_object_get_array_member (key, "trials");
	g_assert_cmpuint (json_array_get_length (trials), ==, 1);
	trial = json_array_get_object_element (trials, 0);
	g_assert_true (json_object_get_boolean_member (trial, "hinted"));
	g_assert_cmpstr (json_object_get_string_member (trial, "result"), ==, "opened");

	run_inspect (&wrong, "--json", "--key", fx->spare_a_path, fx->three, NULL);
	g_assert_cmpint (wrong.status, ==, 1);
	key = json_object_get_object_member (parse_json (wrong_parser, wrong.out), "key");
	g_assert_cmpstr (json_object_get_string_member (key, "id"), ==, "spare-a");
	g_assert_false (json_object_get_boolean_member (key, "opened"));
	g_assert_true (json_object_get_null_member (key, "slot"));
	g_assert_cmpuint (json_array_get_length (json_object_get_array_member (key, "trials")), ==,
			  3);
	g_assert_nonnull (strstr (wrong.err, "[NoKey]"));
}

static void
assert_fails (const gchar *error_name, const gchar *message_part, ...)
{
	g_autoptr (GPtrArray) args = g_ptr_array_new ();
	g_autofree gchar *tag = g_strdup_printf ("[%s]", error_name);
	g_auto (Run) run = { 0 };
	g_auto (Run) json_run = { 0 };
	g_autoptr (JsonParser) parser = json_parser_new ();
	JsonObject *err;
	const gchar *arg;
	va_list ap;

	va_start (ap, message_part);
	while ((arg = va_arg (ap, const gchar *)) != NULL)
		g_ptr_array_add (args, (gpointer) arg);
	va_end (ap);
	g_assert_cmpuint (args->len, >=, 1);

	/* Text: the reason and the error name on stderr, nothing on stdout. */
	if (args->len == 1)
		run_inspect (&run, args->pdata[0], NULL);
	else
		run_inspect (&run, args->pdata[0], args->pdata[1], args->pdata[2], NULL);
	g_assert_cmpint (run.status, ==, 1);
	g_assert_cmpstr (run.out, ==, "");
	g_assert_nonnull (strstr (run.err, tag));
	g_assert_nonnull (strstr (run.err, message_part));

	/* JSON: {"error": {"name": ..., "message": ...}} on stdout. */
	if (args->len == 1)
		run_inspect (&json_run, "--json", args->pdata[0], NULL);
	else
		run_inspect (&json_run, "--json", args->pdata[0], args->pdata[1], args->pdata[2],
			     NULL);
	g_assert_cmpint (json_run.status, ==, 1);
	err = json_object_get_object_member (parse_json (parser, json_run.out), "error");
	g_assert_cmpstr (json_object_get_string_member (err, "name"), ==, error_name);
	g_assert_nonnull (strstr (json_object_get_string_member (err, "message"), message_part));
}

static void
test_refusals (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autofree gchar *missing = g_build_filename (fx->tmpdir, "absent.bundle", NULL);

	assert_fails ("NotFound", "No such file", missing, NULL);
	assert_fails ("NotABundle", "no LUKS2 header", fx->random, NULL);
	assert_fails ("NotABundle", "foreign LUKS2 file", fx->foreign, NULL);
	assert_fails ("UnsupportedFormat", "mediaupd-v9", fx->future, NULL);
	assert_fails ("CorruptBundle", "truncated", fx->cut_in_header, NULL);
	assert_fails ("CorruptBundle", "truncated", fx->cut_mid_sector, NULL);
	assert_fails ("InvalidKey", "at least 32", "--key", fx->short_key_path, fx->three, NULL);
	assert_fails ("NotFound", "absent.bundle", "--key", missing, fx->three, NULL);
}

static void
test_usage (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_auto (Run) none = { 0 };
	g_auto (Run) two = { 0 };
	g_auto (Run) unknown = { 0 };

	run_inspect (&none, NULL);
	g_assert_cmpint (none.status, ==, 2);
	run_inspect (&two, fx->three, fx->no_tokens, NULL);
	g_assert_cmpint (two.status, ==, 2);
	run_inspect (&unknown, "--no-such-option", fx->three, NULL);
	g_assert_cmpint (unknown.status, ==, 2);
}

/* A copy of @path with the LUKS2 label and subsystem set by cryptsetup. */
static gchar *
relabel (const gchar *path, const gchar *suffix, const gchar *label, const gchar *subsystem)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_autofree gchar *copy = g_strconcat (path, suffix, NULL);
	gsize len = 0;
	gint status = -1;
	const gchar *argv[] = { "cryptsetup",   "config",      copy,      "--label",
				label,          "--subsystem", subsystem, "--disable-locks",
				"--batch-mode", NULL };

	g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
	g_assert_true (g_file_set_contents (copy, contents, (gssize) len, NULL));
	g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
		      &status, &error);
	g_assert_no_error (error);
	g_assert_true (g_spawn_check_wait_status (status, NULL));
	return g_steal_pointer (&copy);
}

static void
assert_no_control (const gchar *text)
{
	for (const gchar *p = text; *p != '\0'; p++)
		g_assert_true (*p == '\n' || !g_ascii_iscntrl (*p));
}

/* A label or subsystem holding terminal escapes is shown as text, not sent to the
 * terminal, in the error message, in text and in JSON output. */
static void
test_escapes (gconstpointer data)
{
	const MuLuksFixtures *fx = data;
	g_autofree gchar *bad_label = relabel (fx->three, ".label", "\033[2Jevil", "mediaupd-v1");
	g_autofree gchar *bad_subsystem = relabel (fx->three, ".subsystem", "mediaupd-bundle",
						   "mediaupd-v9\033]0;x\a");
	g_auto (Run) label_run = { 0 };
	g_auto (Run) label_json = { 0 };
	g_auto (Run) subsystem_run = { 0 };

	run_inspect (&label_run, bad_label, NULL);
	g_assert_cmpint (label_run.status, ==, 1);
	g_assert_nonnull (strstr (label_run.err, "label '\\x1b[2Jevil'"));
	assert_no_control (label_run.err);
	assert_no_control (label_run.out);

	run_inspect (&label_json, bad_label, "--json", NULL);
	g_assert_cmpint (label_json.status, ==, 1);
	g_assert_nonnull (strstr (label_json.out, "\\\\x1b[2Jevil"));
	assert_no_control (label_json.err);
	assert_no_control (label_json.out);

	run_inspect (&subsystem_run, bad_subsystem, NULL);
	g_assert_cmpint (subsystem_run.status, ==, 1);
	g_assert_nonnull (strstr (subsystem_run.err, "mediaupd-v9\\x1b]0;x\\x07"));
	assert_no_control (subsystem_run.err);
	g_unlink (bad_label);
	g_unlink (bad_subsystem);
}

int
main (int argc, char **argv)
{
	g_autoptr (MuLuksFixtures) fx = NULL;

	g_test_init (&argc, &argv, NULL);
	fx = mu_luks_fixtures_new ();

	g_test_add_data_func ("/tool-inspect/text", fx, test_text);
	g_test_add_data_func ("/tool-inspect/text-no-tokens", fx, test_text_no_tokens);
	g_test_add_data_func ("/tool-inspect/key-opens", fx, test_key_opens);
	g_test_add_data_func ("/tool-inspect/key-opens-nothing", fx, test_key_opens_nothing);
	g_test_add_data_func ("/tool-inspect/json", fx, test_json);
	g_test_add_data_func ("/tool-inspect/json-key", fx, test_json_key);
	g_test_add_data_func ("/tool-inspect/refusals", fx, test_refusals);
	g_test_add_data_func ("/tool-inspect/usage", fx, test_usage);
	g_test_add_data_func ("/tool-inspect/escapes", fx, test_escapes);
	return g_test_run ();
}
