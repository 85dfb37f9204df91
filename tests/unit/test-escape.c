/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mu-escape.h"

/* Nothing a terminal acts on, and valid UTF-8. */
static void
assert_harmless (const gchar *s)
{
	const gchar *p;

	g_assert_true (g_utf8_validate (s, -1, NULL));
	g_assert_cmpuint (strlen (s), <=, MU_ESCAPE_MAX_LEN);
	for (p = s; *p != '\0'; p = g_utf8_next_char (p)) {
		gunichar c = g_utf8_get_char (p);

		g_assert_false (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f));
		g_assert_false (c >= 0x202a && c <= 0x202e);
		g_assert_false (c >= 0x2066 && c <= 0x2069);
	}
}

static void
test_escape_table (void)
{
	static const struct {
		const gchar *in;
		const gchar *out;
	} cases[] = {
		/* clang-format off */
		{ "mediaupd-bundle", "mediaupd-bundle" },
		{ "", "" },
		{ "main-2026 \\x1b", "main-2026 \\x1b" }, /* already escaped: unchanged */
		{ "\033[2J", "\\x1b[2J" },
		{ "a\nfake line\r\tb", "a\\x0afake line\\x0d\\x09b" },
		{ "del\177", "del\\x7f" },
		{ "c1 \xc2\x9b" "31m", "c1 \\x9b31m" },                      /* C1 CSI */
		{ "evil\xe2\x80\xae" "txt.exe", "evil\\u202etxt.exe" },      /* RLO */
		{ "iso \xe2\x81\xa6x", "iso \\u2066x" },                     /* LRI */
		{ "bom\xef\xbb\xbf", "bom\\ufeff" },
		{ "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac", "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac" },
		{ "bad \xff\xfe utf8", "bad \\xff\\xfe utf8" },
		{ "cut \xe2\x82", "cut \\xe2\\x82" },                        /* truncated sequence */
		{ "overlong \xc0\xaf", "overlong \\xc0\\xaf" },
		{ "surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80" },
		/* clang-format on */
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *once = mu_escape_untrusted (cases[i].in);
		g_autofree gchar *twice = mu_escape_untrusted (once);

		g_test_message ("case %u", i);
		g_assert_cmpstr (once, ==, cases[i].out);
		g_assert_cmpstr (twice, ==, once);
		assert_harmless (once);
		g_assert_true (mu_escape_is_clean (once));
		g_assert_cmpint (mu_escape_is_clean (cases[i].in), ==,
				 g_str_equal (cases[i].in, cases[i].out));
	}
}

static void
test_escape_null (void)
{
	g_autofree gchar *s = mu_escape_untrusted (NULL);

	g_assert_cmpstr (s, ==, "");
	g_assert_false (mu_escape_is_clean (NULL));
}

/* Long inputs are capped with an ellipsis, at a character boundary, whatever they hold. */
static void
test_escape_long (void)
{
	const gchar fills[][4] = { "a", "\033", "\xff", "\xc3\xbc", "\xe2\x80\xae" };

	for (guint f = 0; f < G_N_ELEMENTS (fills); f++) {
		for (gsize n = MU_ESCAPE_MAX_LEN - 8; n < MU_ESCAPE_MAX_LEN + 8; n++) {
			g_autoptr (GString) in = g_string_new (NULL);
			g_autofree gchar *once = NULL;
			g_autofree gchar *twice = NULL;

			while (in->len < n)
				g_string_append (in, fills[f]);
			once = mu_escape_untrusted (in->str);
			twice = mu_escape_untrusted (once);
			assert_harmless (once);
			g_assert_cmpstr (twice, ==, once);
			if (mu_escape_is_clean (fills[f]) && in->len <= MU_ESCAPE_MAX_LEN)
				g_assert_cmpstr (once, ==, in->str);
			else
				g_assert_true (g_str_has_suffix (once, "..."));
		}
	}
	/* A megabyte: the result is still capped. */
	{
		g_autofree gchar *huge = g_strnfill (1024 * 1024, '\033');
		g_autofree gchar *once = mu_escape_untrusted (huge);

		assert_harmless (once);
		g_assert_true (g_str_has_prefix (once, "\\x1b\\x1b"));
		g_assert_true (g_str_has_suffix (once, "\\x1b..."));
	}
}

static void
test_escape_pool (void)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *line = g_strdup_printf ("label '%s', subsystem '%s'",
						  mu_escape_untrusted_in (pool, "\033[2J"),
						  mu_escape_untrusted_in (pool, "v1\a"));

	g_assert_cmpstr (line, ==, "label '\\x1b[2J', subsystem 'v1\\x07'");
	g_assert_cmpuint (pool->len, ==, 2);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/escape/table", test_escape_table);
	g_test_add_func ("/escape/null", test_escape_null);
	g_test_add_func ("/escape/long", test_escape_long);
	g_test_add_func ("/escape/pool", test_escape_pool);
	return g_test_run ();
}
