/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-escape.h"

#define ELLIPSIS "..."

/* Characters that change how a terminal or a log viewer shows what follows them. */
static gboolean
needs_escape (gunichar c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x200e || c == 0x200f ||
	       c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

gchar *
mu_escape_untrusted (const gchar *text)
{
	GString *out;
	const gchar *p;
	const gchar *end;
	gsize cut = 0; /* the last end of a piece that leaves room for the ellipsis */

	if (text == NULL)
		return g_strdup ("");
	end = text + strlen (text);
	out = g_string_sized_new (MIN ((gsize) (end - text), MU_ESCAPE_MAX_LEN) + 1);
	/* Every input byte gives at least one output byte, so this reads at most
	 * MU_ESCAPE_MAX_LEN + 1 bytes of a long input. */
	for (p = text; p < end && out->len <= MU_ESCAPE_MAX_LEN;) {
		gunichar c = g_utf8_get_char_validated (p, end - p);

		if (c == (gunichar) -1 || c == (gunichar) -2) {
			g_string_append_printf (out, "\\x%02x", (guint) (guchar) *p);
			p++;
		} else {
			const gchar *next = g_utf8_next_char (p);

			if (needs_escape (c) && c < 0x100)
				g_string_append_printf (out, "\\x%02x", c);
			else if (needs_escape (c))
				g_string_append_printf (out, "\\u%04x", c);
			else
				g_string_append_len (out, p, next - p);
			p = next;
		}
		if (out->len <= MU_ESCAPE_MAX_LEN - strlen (ELLIPSIS))
			cut = out->len;
	}
	if (out->len > MU_ESCAPE_MAX_LEN || p < end) {
		g_string_truncate (out, cut);
		g_string_append (out, ELLIPSIS);
	}
	return g_string_free (out, FALSE);
}

const gchar *
mu_escape_untrusted_in (GPtrArray *pool, const gchar *text)
{
	gchar *escaped = mu_escape_untrusted (text);

	g_ptr_array_add (pool, escaped);
	return escaped;
}

gboolean
mu_escape_is_clean (const gchar *text)
{
	g_autofree gchar *escaped = NULL;

	if (text == NULL)
		return FALSE;
	escaped = mu_escape_untrusted (text);
	return g_str_equal (escaped, text);
}
