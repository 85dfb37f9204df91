/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of the bundle module: label, token, segment and magic
 * parsers, trial summaries, PBKDF limits. Table-driven, no files. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mu-bundle.h"
#include "mu-error.h"
#include "mu-luks.h"

static GPtrArray *
new_trials (void)
{
	return g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_trial_free);
}

static void
test_pbkdf_limits_table (void)
{
	static const struct {
		const gchar *type;
		guint32 iterations;
		guint32 memory_kib;
		guint32 threads;
		gboolean allowed;
	} cases[] = {
		{ "pbkdf2", 1000, 0, 0, TRUE },
		{ "pbkdf2", MU_PBKDF2_MAX_ITERATIONS_DEFAULT, 0, 0, TRUE },
		{ "pbkdf2", MU_PBKDF2_MAX_ITERATIONS_DEFAULT + 1, 0, 0, FALSE },
		/* make-encrypted-bundle.sh's argon2id default */
		{ "argon2id", 4, 65536, 1, TRUE },
		{ "argon2i", 4, 65536, 4, TRUE },
		{ "argon2id", MU_ARGON2_MAX_TIME_DEFAULT, MU_ARGON2_MAX_MEMORY_KIB_DEFAULT,
		  MU_ARGON2_MAX_THREADS_DEFAULT, TRUE },
		{ "argon2id", MU_ARGON2_MAX_TIME_DEFAULT + 1, 65536, 1, FALSE },
		{ "argon2i", 4, MU_ARGON2_MAX_MEMORY_KIB_DEFAULT + 1, 1, FALSE },
		/* cryptsetup's own benchmarked default on a PC: not for a small board */
		{ "argon2id", 4, 743887, 2, FALSE },
		{ "argon2id", 4, 4 * 1024 * 1024, 1, FALSE },
		{ "argon2id", 4, 65536, MU_ARGON2_MAX_THREADS_DEFAULT + 1, FALSE },
		{ "argon2id", 4, 65536, 65535, FALSE },
		{ NULL, 0, 0, 0, TRUE },
	};
	MuPbkdfLimits limits;

	mu_pbkdf_limits_init (&limits);
	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		MuBundleKeyslot ks = { 0 };

		ks.pbkdf_type = (gchar *) cases[i].type;
		ks.pbkdf_iterations = cases[i].iterations;
		ks.pbkdf_memory_kib = cases[i].memory_kib;
		ks.pbkdf_parallel = cases[i].threads;
		g_assert_cmpint (mu_pbkdf_limits_allow (&limits, &ks), ==, cases[i].allowed);
	}
}

/* A label or subsystem from the stick reaches the message as visible text. */
static void
test_check_label_escaped (void)
{
	/* label, subsystem, what the message shows */
	static const gchar *const cases[][3] = {
		{ "\033[2Jevil", "mediaupd-v1", "'\\x1b[2Jevil'" },
		{ "mediaupd-bundle", "mediaupd-v9\033]0;x\a", "'mediaupd-v9\\x1b]0;x\\x07'" },
		{ "mediaupd-bundle", "other\r\nforged line", "'other\\x0d\\x0aforged line'" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		guint version = 0;

		g_assert_false (mu_bundle_check_label (cases[i][0], cases[i][1], &version, &error));
		g_assert_nonnull (error);
		g_test_message ("%s", error->message);
		for (const gchar *p = error->message; *p != '\0'; p++)
			g_assert_false (g_ascii_iscntrl (*p));
		g_assert_nonnull (strstr (error->message, cases[i][2]));
	}
}

static void
test_check_label (void)
{
	static const struct {
		const gchar *label;
		const gchar *subsystem;
		MuErrorCode code; /* MU_ERROR_LAST: accepted */
		guint version;    /* when accepted */
	} cases[] = {
		{ "mediaupd-bundle", "mediaupd-v1", MU_ERROR_LAST, 1 },
		{ "mediaupd-bundle", "mediaupd-v2", MU_ERROR_LAST, 2 },
		{ "mediaupd-bundle", "mediaupd-v3", MU_ERROR_UNSUPPORTED_FORMAT },
		{ "mediaupd-bundle", "mediaupd-v2 ", MU_ERROR_UNSUPPORTED_FORMAT },
		{ "mediaupd-bundle", "mediaupd-v10", MU_ERROR_UNSUPPORTED_FORMAT },
		{ "mediaupd-bundle", "mediaupd-v", MU_ERROR_UNSUPPORTED_FORMAT },
		{ "mediaupd-bundle", "apertis-v2", MU_ERROR_NOT_A_BUNDLE },
		{ "mediaupd-bundle", "", MU_ERROR_NOT_A_BUNDLE },
		{ "mediaupd-bundle", NULL, MU_ERROR_NOT_A_BUNDLE },
		{ "home", "mediaupd-v1", MU_ERROR_NOT_A_BUNDLE },
		{ "", "mediaupd-v1", MU_ERROR_NOT_A_BUNDLE },
		{ NULL, NULL, MU_ERROR_NOT_A_BUNDLE },
		{ "MEDIAUPD-BUNDLE", "mediaupd-v1", MU_ERROR_NOT_A_BUNDLE },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		guint version = 0;
		gboolean ok = mu_bundle_check_label (cases[i].label, cases[i].subsystem, &version,
						     &error);

		if (cases[i].code == MU_ERROR_LAST) {
			g_assert_no_error (error);
			g_assert_true (ok);
			g_assert_cmpuint (version, ==, cases[i].version);
		} else {
			g_assert_error (error, MU_ERROR, (gint) cases[i].code);
			g_assert_false (ok);
			g_assert_cmpuint (version, ==, 0);
		}
	}
}

/* [Bundle] Formats= as a bit set: each version alone, both, and what the refusal says. */
static void
test_format_allowed (void)
{
	static const struct {
		guint version;
		guint formats;
		gboolean accepted;
		const gchar *says; /* in the refusal */
	} cases[] = {
		{ 2, MU_BUNDLE_FORMATS_DEFAULT, TRUE, NULL },
		{ 1, MU_BUNDLE_FORMATS_DEFAULT, FALSE, "not authenticated before" },
		{ 1, MU_BUNDLE_FORMATS_DEFAULT, FALSE, "[Bundle] Formats=1;2" },
		{ 1, MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2), TRUE, NULL },
		{ 2, MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2), TRUE, NULL },
		{ 1, MU_BUNDLE_FORMAT_BIT (1), TRUE, NULL },
		{ 2, MU_BUNDLE_FORMAT_BIT (1), FALSE, "format v2" },
		{ 3, MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2), FALSE, "format v3" },
		{ 40, G_MAXUINT, FALSE, "format v40" },
		{ 0, G_MAXUINT, FALSE, "format v0" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		gboolean ok = mu_bundle_check_format_allowed ("b.enc", cases[i].version,
							      cases[i].formats, &error);

		if (cases[i].accepted) {
			g_assert_no_error (error);
			g_assert_true (ok);
			continue;
		}
		g_assert_false (ok);
		g_assert_error (error, MU_ERROR, MU_ERROR_UNSUPPORTED_FORMAT);
		g_assert_nonnull (strstr (error->message, "'b.enc'"));
		g_assert_nonnull (strstr (error->message, cases[i].says));
	}
}

static void
test_parse_token (void)
{
	static const struct {
		const gchar *json;
		const gchar *key_id; /* NULL: refused */
	} cases[] = {
		{ "{\"type\":\"mediaupd-keyid\",\"keyslots\":[\"0\"],\"key_id\":\"main-2026\"}",
		  "main-2026" },
		{ "{\"key_id\":\"a.b_c\",\"type\":\"mediaupd-keyid\",\"keyslots\":[]}", "a.b_c" },
		{ "{\"type\":\"mediaupd-keyid\",\"keyslots\":[\"0\"]}", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":\"../../etc/shadow\"}", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":\".hidden\"}", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":\"\"}", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":42}", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":[\"x\"]}", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":null}", NULL },
		{ "{\"type\":\"mediaupd-keyhint\",\"key_id\":\"main\"}", NULL },
		{ "{\"type\":42,\"key_id\":\"main\"}", NULL },
		{ "[\"mediaupd-keyid\"]", NULL },
		{ "\"mediaupd-keyid\"", NULL },
		{ "{\"type\":\"mediaupd-keyid\",\"key_id\":\"main\"", NULL },
		{ "", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) bytes = g_bytes_new_static (cases[i].json,
							       strlen (cases[i].json));
		g_autoptr (GError) error = NULL;
		g_autofree gchar *key_id = NULL;
		gboolean ok;

		g_test_message ("token %s", cases[i].json);
		ok = mu_bundle_parse_keyid_token (bytes, &key_id, &error);
		if (cases[i].key_id != NULL) {
			g_assert_no_error (error);
			g_assert_true (ok);
			g_assert_cmpstr (key_id, ==, cases[i].key_id);
		} else {
			g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
			g_assert_false (ok);
			g_assert_null (key_id);
		}
	}
}

static GBytes *
header_bytes (const gchar *magic, gsize magic_len, gsize offset, guint16 version, gsize size)
{
	guint8 *data = g_malloc0 (size);

	if (magic != NULL && offset + magic_len + 2 <= size) {
		memcpy (data + offset, magic, magic_len);
		data[offset + magic_len] = (guint8) (version >> 8);
		data[offset + magic_len + 1] = (guint8) version;
	}
	return g_bytes_new_take (data, size);
}

static void
test_sniff (void)
{
	static const gchar primary[] = "LUKS\xba\xbe";
	static const gchar secondary[] = "SKUL\xba\xbe";
	static const struct {
		const gchar *magic;
		gsize offset;
		guint16 version;
		gsize size;
		MuLuksMagic expected;
	} cases[] = {
		{ primary, 0, 2, 4096, MU_LUKS_MAGIC_LUKS2 },
		{ primary, 0, 1, 4096, MU_LUKS_MAGIC_LUKS1 },
		{ primary, 0, 3, 4096, MU_LUKS_MAGIC_NONE },
		{ primary, 0, 2, 7, MU_LUKS_MAGIC_NONE }, /* cut inside the version */
		{ primary, 0, 2, 8, MU_LUKS_MAGIC_LUKS2 },
		{ secondary, 0x4000, 2, 0x8000, MU_LUKS_MAGIC_LUKS2 },
		{ secondary, 0x400000, 2, 0x400008, MU_LUKS_MAGIC_LUKS2 },
		{ secondary, 0x4001, 2, 0x8000, MU_LUKS_MAGIC_NONE }, /* not a header offset */
		{ secondary, 0, 2, 4096, MU_LUKS_MAGIC_NONE },        /* secondary magic at 0 */
		{ primary, 0x4000, 2, 0x8000, MU_LUKS_MAGIC_NONE },   /* primary magic at 16 KiB */
		{ NULL, 0, 0, 4096, MU_LUKS_MAGIC_NONE },
		{ NULL, 0, 0, 0, MU_LUKS_MAGIC_NONE },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) head = header_bytes (cases[i].magic, 6, cases[i].offset,
							cases[i].version, cases[i].size);

		g_test_message ("sniff case %u", i);
		g_assert_cmpint (mu_luks_sniff (head), ==, cases[i].expected);
	}
}

/* Empty JSON is refused as JSON that does not parse, with no critical from json-glib (the
 * data of empty GBytes is NULL); found by fuzz/fuzz-luks-header
 * (fuzz/regressions/luks-header/empty). */
static void
test_empty_json (void)
{
	g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
	g_autoptr (GError) error = NULL;
	g_autofree gchar *key_id = NULL;
	guint64 offset = 0;
	guint64 size = 0;

	g_assert_false (mu_bundle_check_encryption (empty, MU_BUNDLE_KEY_BYTES, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
	g_clear_error (&error);
	g_assert_false (mu_luks_parse_segment (empty, &offset, &size, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
	g_clear_error (&error);
	g_assert_false (mu_bundle_parse_keyid_token (empty, &key_id, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
	g_assert_null (key_id);
}

static void
test_parse_segment (void)
{
	static const struct {
		const gchar *json;
		gboolean ok;
		guint64 offset;
		guint64 size;
	} cases[] = {
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"2097152\","
		  "\"size\":\"dynamic\"}}}",
		  TRUE, 2097152, 0 },
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"16777216\","
		  "\"size\":\"1048576\"}}}",
		  TRUE, 16777216, 1048576 },
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"0\",\"size\":\"0\"}}}",
		  FALSE, 0, 0 },
		{ "{\"segments\":{\"0\":{\"type\":\"linear\",\"offset\":\"0\","
		  "\"size\":\"dynamic\"}}}",
		  FALSE, 0, 0 },
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":2097152,"
		  "\"size\":\"dynamic\"}}}",
		  FALSE, 0, 0 },
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"-1\","
		  "\"size\":\"dynamic\"}}}",
		  FALSE, 0, 0 },
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"1\",\"size\":\"x\"}}}",
		  FALSE, 0, 0 },
		{ "{\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"1\",\"size\":\"dynamic\"},"
		  "\"1\":{\"type\":\"crypt\",\"offset\":\"1\",\"size\":\"dynamic\"}}}",
		  FALSE, 0, 0 },
		{ "{\"segments\":{}}", FALSE, 0, 0 },
		{ "{\"segments\":[]}", FALSE, 0, 0 },
		{ "{}", FALSE, 0, 0 },
		{ "[]", FALSE, 0, 0 },
		{ "{\"segments\":", FALSE, 0, 0 },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) bytes = g_bytes_new_static (cases[i].json,
							       strlen (cases[i].json));
		g_autoptr (GError) error = NULL;
		guint64 offset = 1;
		guint64 size = 1;
		gboolean ok;

		g_test_message ("segment %s", cases[i].json);
		ok = mu_luks_parse_segment (bytes, &offset, &size, &error);
		if (cases[i].ok) {
			g_assert_no_error (error);
			g_assert_true (ok);
			g_assert_cmpuint (offset, ==, cases[i].offset);
			g_assert_cmpuint (size, ==, cases[i].size);
		} else {
			g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
			g_assert_false (ok);
			g_assert_cmpuint (offset, ==, 1);
			g_assert_cmpuint (size, ==, 1);
		}
	}
}

static void
add_trial (GPtrArray *trials, const gchar *key_id, gint slot, gboolean hinted, gint result)
{
	MuKeyTrial *trial = g_new0 (MuKeyTrial, 1);

	trial->key_id = g_strdup (key_id);
	trial->slot = slot;
	trial->hinted = hinted;
	trial->result = result;
	g_ptr_array_add (trials, trial);
}

static void
test_summarize (void)
{
	g_autoptr (GPtrArray) trials = new_trials ();
	g_autofree gchar *full = NULL;
	g_autofree gchar *capped = NULL;

	add_trial (trials, "main", 3, TRUE, -EPERM);
	add_trial (trials, "main", 0, FALSE, -EPERM);
	add_trial (trials, "main", 1, FALSE, -ENOMEM);
	add_trial (trials, "main", 2, FALSE, -EPERM);
	add_trial (trials, "old", 0, FALSE, -EPERM);
	full = mu_key_trials_summarize (trials, 0);
	g_assert_cmpstr (full, ==,
			 "'main' (its slot 3: wrong key; 2 other slots: wrong key; "
			 "1 other slot: not enough memory for the keyslot's PBKDF), "
			 "'old' (1 slot: wrong key)");
	capped = mu_key_trials_summarize (trials, 40);
	g_assert_cmpstr (capped, ==, "... and 2 more keys");
	g_assert_cmpstr (mu_key_trial_result_to_string (4), ==, "opened");
	g_assert_cmpstr (mu_key_trial_result_to_string (-ENOENT), ==, "no such keyslot");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/bundle-parse/check-label", test_check_label);
	g_test_add_func ("/bundle-parse/check-label-escaped", test_check_label_escaped);
	g_test_add_func ("/bundle-parse/format-allowed", test_format_allowed);
	g_test_add_func ("/bundle-parse/parse-token", test_parse_token);
	g_test_add_func ("/bundle-parse/summarize", test_summarize);
	g_test_add_func ("/bundle-parse/pbkdf-limits", test_pbkdf_limits_table);
	g_test_add_func ("/bundle-parse/luks-sniff", test_sniff);
	g_test_add_func ("/bundle-parse/luks-segment", test_parse_segment);
	g_test_add_func ("/bundle-parse/empty-json", test_empty_json);
	return g_test_run ();
}
