/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib.h>

#include "mu-error.h"
#include "mu-os-release.h"

/* Files as distributions write them, and what they say. */
static void
test_os_release_good (void)
{
	const struct {
		const gchar *name;
		const gchar *text;
		const gchar *id, *variant_id;
	} cases[] = {
		{ "debian",
		  "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
		  "VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\n"
		  "ID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
		  "debian", NULL },
		{ "variant", "ID=fedora\nVARIANT=\"Server Edition\"\nVARIANT_ID=server\n", "fedora",
		  "server" },
		{ "quoted ID", "ID=\"opensuse-leap\"\n", "opensuse-leap", NULL },
		{ "single quotes", "ID='testos'\nNAME='Test \"OS\"'\n", "testos", NULL },
		{ "escapes", "NAME=\"a \\\"b\\\" \\\\ \\$c \\`d\\`\"\nID=x\n", "x", NULL },
		{ "comments and blanks", "# comment\n\n  \n\t# indented comment\nID=x.y_z-1\n",
		  "x.y_z-1", NULL },
		{ "no final newline", "ID=testos", "testos", NULL },
		{ "blanks after the value", "ID=testos  \nNAME=\"x\"\t\n", "testos", NULL },
		{ "no ID", "NAME=thing\n", NULL, NULL },
		{ "empty", "", NULL, NULL },
		{ "empty value of another key", "ID=testos\nBUILD_ID=\n", "testos", NULL },
		{ "UTF-8", "NAME=\"Tëst ÖS\"\nID=testos\n", "testos", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) bytes = g_bytes_new_static (cases[i].text,
							       strlen (cases[i].text));
		g_autoptr (GError) error = NULL;
		g_autoptr (MuOsRelease) os = mu_os_release_parse (bytes, &error);

		g_test_message ("case: %s", cases[i].name);
		g_assert_no_error (error);
		g_assert_nonnull (os);
		g_assert_cmpstr (os->id, ==, cases[i].id);
		g_assert_cmpstr (os->variant_id, ==, cases[i].variant_id);
	}
}

/* Each malformed file is refused, naming the line: a reader that parses it another way
 * could see another ID in it. */
static void
test_os_release_malformed (void)
{
	const struct {
		const gchar *name;
		const gchar *text;
		gsize len; /* 0: strlen */
		const gchar *in_message;
	} cases[] = {
		{ "no assignment", "ID=testos\njust words\n", 0, "line 2: not a KEY=VALUE" },
		{ "blank before =", "ID =testos\n", 0, "line 1: not a KEY=VALUE" },
		{ "key starts with a digit", "1D=testos\n", 0, "not a KEY=VALUE" },
		{ "export", "export ID=testos\n", 0, "not a KEY=VALUE" },
		{ "unquoted blank", "NAME=Test OS\nID=testos\n", 0,
		  "line 1: text after the value" },
		{ "unquoted shell syntax", "ID=testos;reboot\n", 0, "must be quoted" },
		{ "unquoted expansion", "ID=$OTHER\n", 0, "must be quoted" },
		{ "unterminated double quote", "NAME=\"Test\nID=otheros\"\n", 0,
		  "line 1: unterminated double quote" },
		{ "unterminated single quote", "ID='testos\n", 0, "unterminated single quote" },
		{ "text after the quote", "ID=\"testos\"x\n", 0, "text after the value" },
		{ "second quoted word", "NAME=\"a\" \"b\"\n", 0, "text after the value" },
		{ "expansion in double quotes", "NAME=\"$(reboot)\"\n", 0, "unescaped '$'" },
		{ "unknown escape", "NAME=\"a\\nb\"\n", 0, "unknown escape" },
		{ "duplicate ID", "ID=testos\nID=otheros\n", 0, "line 2: the key is given twice" },
		{ "duplicate other key", "NAME=a\nNAME=b\n", 0, "given twice" },
		{ "upper-case ID", "ID=TestOS\n", 0, "ID and VARIANT_ID take only" },
		{ "empty ID", "ID=\n", 0, "ID and VARIANT_ID take only" },
		{ "ID with a blank in quotes", "ID=\"test os\"\n", 0,
		  "ID and VARIANT_ID take only" },
		{ "bad VARIANT_ID", "ID=testos\nVARIANT_ID=Kiosk/1\n", 0,
		  "line 2: ID and VARIANT_ID" },
		{ "carriage return", "ID=testos\r\n", 0, "line 1" },
		{ "NUL byte", "ID=testos\0ID=otheros\n", 20, "not UTF-8 text" },
		{ "invalid UTF-8", "NAME=\"\xff\"\nID=testos\n", 0, "not UTF-8 text" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		gsize len = cases[i].len != 0 ? cases[i].len : strlen (cases[i].text);
		g_autoptr (GBytes) bytes = g_bytes_new_static (cases[i].text, len);
		g_autoptr (GError) error = NULL;
		g_autoptr (MuOsRelease) os = mu_os_release_parse (bytes, &error);

		g_test_message ("case: %s", cases[i].name);
		g_assert_null (os);
		g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
		g_test_message ("refused: %s", error->message);
		g_assert_nonnull (strstr (error->message, cases[i].in_message));
	}
}

/* Larger than any real file: refused before it is parsed; at the bound it is read. */
static void
test_os_release_size (void)
{
	g_autofree gchar *big = g_malloc (MU_OS_RELEASE_MAX_SIZE + 1);
	g_autoptr (GBytes) at_bound = NULL;
	g_autoptr (GBytes) over = NULL;
	g_autoptr (MuOsRelease) os = NULL;
	g_autoptr (GError) error = NULL;

	/* "ID=testos\n" and then comment lines up to the size. */
	memset (big, '#', MU_OS_RELEASE_MAX_SIZE + 1);
	memcpy (big, "ID=testos\n", 10);
	at_bound = g_bytes_new_static (big, MU_OS_RELEASE_MAX_SIZE);
	os = mu_os_release_parse (at_bound, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (os->id, ==, "testos");

	over = g_bytes_new_static (big, MU_OS_RELEASE_MAX_SIZE + 1);
	g_clear_pointer (&os, mu_os_release_free);
	os = mu_os_release_parse (over, &error);
	g_assert_null (os);
	g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull (strstr (error->message, "65537 bytes"));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/os-release/good", test_os_release_good);
	g_test_add_func ("/os-release/malformed", test_os_release_malformed);
	g_test_add_func ("/os-release/size", test_os_release_size);
	return g_test_run ();
}
