/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mu-json.h"

static JsonObject *
parse_object (JsonParser *parser, const gchar *text)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
	g_assert_no_error (error);
	g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
	return json_node_get_object (json_parser_get_root (parser));
}

static void
test_json_get_string (void)
{
	g_autoptr (JsonParser) parser = json_parser_new ();
	JsonObject *o = parse_object (parser,
				      "{\"s\":\"x\",\"n\":1,\"z\":null,\"o\":{},\"a\":[\"y\"]}");

	g_assert_cmpstr (mu_json_object_get_string (o, "s"), ==, "x");
	g_assert_null (mu_json_object_get_string (o, "n"));
	g_assert_null (mu_json_object_get_string (o, "z"));
	g_assert_null (mu_json_object_get_string (o, "o"));
	g_assert_null (mu_json_object_get_string (o, "a"));
	g_assert_null (mu_json_object_get_string (o, "missing"));
}

static void
test_json_members (void)
{
	g_autoptr (JsonBuilder) b = json_builder_new ();
	g_autofree gchar *line = NULL;

	json_builder_begin_object (b);
	mu_json_builder_add_string_member (b, "plain", "a\nb");
	mu_json_builder_add_string_member (b, "none", NULL);
	mu_json_builder_add_text_member (b, "text", "evil\033[2J\xe2\x80\xae");
	mu_json_builder_add_text_member (b, "no_text", NULL);
	mu_json_builder_add_int_member (b, "int", -5);
	mu_json_builder_add_boolean_member (b, "yes", TRUE);
	json_builder_end_object (b);
	line = mu_json_builder_to_line (b);
	/* One line; the plain string keeps its newline (JSON-escaped), the text member is
	 * escaped for a terminal before JSON sees it. */
	g_assert_null (strchr (line, '\n'));
	g_assert_cmpstr (line, ==,
			 "{\"plain\":\"a\\nb\",\"none\":null,\"text\":\"evil\\\\x1b[2J\\\\u202e\","
			 "\"no_text\":null,\"int\":-5,\"yes\":true}");
}

static void
test_json_variant (void)
{
	g_autoptr (GVariant) v = NULL;
	g_autoptr (JsonBuilder) b = json_builder_new ();
	g_autofree gchar *line = NULL;
	g_autoptr (GVariantBuilder) dict = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
	const gint32 slots[] = { 0, 2 };
	const gchar *const ids[] = { "main-2026", "bad\033id", NULL };

	g_variant_builder_add (dict, "{sv}", "format", g_variant_new_string ("mediaupd-v1"));
	g_variant_builder_add (dict, "{sv}", "size",
			       g_variant_new_uint64 (G_GUINT64_CONSTANT (1) << 40));
	g_variant_builder_add (dict, "{sv}", "huge", g_variant_new_uint64 (G_MAXUINT64));
	g_variant_builder_add (dict, "{sv}", "keyslots",
			       g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, slots, 2,
							  sizeof (gint32)));
	g_variant_builder_add (dict, "{sv}", "key_ids", g_variant_new_strv (ids, -1));
	g_variant_builder_add (dict, "{sv}", "ok", g_variant_new_boolean (FALSE));
	g_variant_builder_add (dict, "{sv}", "pair", g_variant_new ("(sutt)", "apply", 5, 1, 2));
	g_variant_builder_add (dict, "{sv}", "nothing",
			       g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL));
	g_variant_builder_add (dict, "{sv}", "bytes", g_variant_new_bytestring ("ab\001"));
	g_variant_builder_add (dict, "{sv}", "path", g_variant_new_object_path ("/org/x"));
	g_variant_builder_add (dict, "{sv}", "nested",
			       g_variant_new_variant (g_variant_new_int16 (-3)));
	v = g_variant_ref_sink (g_variant_builder_end (dict));
	mu_json_builder_add_variant (b, v);
	line = mu_json_builder_to_line (b);
	g_assert_cmpstr (line, ==,
			 "{\"format\":\"mediaupd-v1\",\"size\":1099511627776,"
			 "\"huge\":9223372036854775807,\"keyslots\":[0,2],"
			 "\"key_ids\":[\"main-2026\",\"bad\\\\x1bid\"],\"ok\":false,"
			 "\"pair\":[\"apply\",5,1,2],\"nothing\":null,\"bytes\":\"ab\\\\x01\","
			 "\"path\":\"/org/x\",\"nested\":-3}");
}

static void
test_json_one_value (void)
{
	/* One value, with white space around it and structural characters inside strings. */
	const gchar *good[] = {
		"{}",       " {\"a\":[1,{\"b\":\"}{\"}]}\n", "[\"\\\"]\"]", "\"x\"", "12", "true",
		"\t[]\r\n",
	};
	/* Several top-level values: json-glib 1.6 would take the last and leak the others. The
	 * first is what the luks-header and signed-token fuzzers found. */
	const gchar *several[] = {
		"\"key_size\"{\"ty \":\"pu-adipmain-2026\"}",
		"{}{}",
		"{} []",
		"[]{\"a\":1}",
		"1 2",
		"\"a\"\"b\"",
		"true false",
		"{\"a\":\"}\"} x",
	};

	for (gsize i = 0; i < G_N_ELEMENTS (good); i++) {
		g_autoptr (JsonParser) parser = json_parser_new ();
		g_autoptr (GError) error = NULL;

		g_assert_true (mu_json_parser_load_text (parser, good[i], -1, &error));
		g_assert_no_error (error);
		g_assert_nonnull (json_parser_get_root (parser));
	}
	for (gsize i = 0; i < G_N_ELEMENTS (several); i++) {
		g_autoptr (JsonParser) parser = json_parser_new ();
		g_autoptr (GError) error = NULL;

		g_assert_false (mu_json_parser_load_text (parser, several[i], -1, &error));
		g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
		g_assert_nonnull (strstr (error->message, "more than one JSON value"));
		g_assert_null (json_parser_get_root (parser));
	}
	/* The length bounds the text: what follows it is not read. */
	{
		g_autoptr (JsonParser) parser = json_parser_new ();

		g_assert_true (mu_json_parser_load_text (parser, "{\"a\":1}{}", 7, NULL));
	}
	/* Empty and NULL text parse to no root; malformed text is json-glib's error. */
	{
		g_autoptr (JsonParser) parser = json_parser_new ();
		g_autoptr (GError) error = NULL;

		g_assert_true (mu_json_parser_load_text (parser, NULL, 0, NULL));
		g_assert_null (json_parser_get_root (parser));
		g_assert_false (mu_json_parser_load_text (parser, "{\"a\":", -1, &error));
		g_assert_nonnull (error);
		g_assert_true (error->domain == JSON_PARSER_ERROR);
		g_assert_null (strstr (error->message, "more than one"));
	}
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/json/get-string", test_json_get_string);
	g_test_add_func ("/json/members", test_json_members);
	g_test_add_func ("/json/variant", test_json_variant);
	g_test_add_func ("/json/one-value", test_json_one_value);
	return g_test_run ();
}
