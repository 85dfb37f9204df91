/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-error.h"
#include "mu-os-release.h"

void
mu_os_release_free (MuOsRelease *os)
{
	if (os == NULL)
		return;
	g_free (os->id);
	g_free (os->variant_id);
	g_free (os);
}

static gboolean
malformed (GError **error, guint line, const gchar *what)
{
	g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT, "os-release line %u: %s", line,
		     what);
	return FALSE;
}

static gboolean
is_blank (gchar c)
{
	return c == ' ' || c == '\t';
}

/* What a shell would treat as syntax, not text, in an unquoted word. */
static gboolean
is_unquoted_char (gchar c)
{
	return (guchar) c >= 0x80 || (g_ascii_isgraph (c) && strchr ("\"'\\`$;&|<>()", c) == NULL);
}

/* Reads the value that starts at @p (the rest of the line) into @out. */
static gboolean
parse_value (const gchar *p, guint line, GString *out, GError **error)
{
	if (*p == '\'') {
		for (p++; *p != '\''; p++) {
			if (*p == '\0')
				return malformed (error, line, "unterminated single quote");
			g_string_append_c (out, *p);
		}
		p++;
	} else if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return malformed (error, line, "unterminated double quote");
			if (*p == '$' || *p == '`')
				return malformed (error, line,
						  "unescaped '$' or '`' in double quotes");
			if (*p == '\\') {
				p++;
				if (*p == '\0' || strchr ("\"\\$`", *p) == NULL)
					return malformed (error, line,
							  "unknown escape in double quotes");
			}
			g_string_append_c (out, *p);
		}
		p++;
	} else {
		for (; *p != '\0' && !is_blank (*p); p++) {
			if (!is_unquoted_char (*p))
				return malformed (error, line,
						  "a value with blanks, quotes or shell syntax must "
						  "be quoted");
			g_string_append_c (out, *p);
		}
	}
	while (is_blank (*p))
		p++;
	if (*p != '\0')
		return malformed (error, line, "text after the value");
	return TRUE;
}

static gboolean
valid_key (const gchar *key, gsize len)
{
	if (len == 0 || !(g_ascii_isalpha (key[0]) || key[0] == '_'))
		return FALSE;
	for (gsize i = 1; i < len; i++)
		if (!(g_ascii_isalnum (key[i]) || key[i] == '_'))
			return FALSE;
	return TRUE;
}

/* os-release(5): "0-9, a-z, '.', '_' and '-'" for ID and VARIANT_ID. */
static gboolean
valid_id (const gchar *value)
{
	if (*value == '\0')
		return FALSE;
	for (const gchar *p = value; *p != '\0'; p++)
		if (!(g_ascii_isdigit (*p) || g_ascii_islower (*p) || strchr ("._-", *p) != NULL))
			return FALSE;
	return TRUE;
}

static gboolean
parse_line (const gchar *text, guint line, GHashTable *seen, MuOsRelease *os, GError **error)
{
	const gchar *p = text;
	const gchar *eq;
	g_autofree gchar *key = NULL;
	g_autoptr (GString) value = g_string_new (NULL);

	while (is_blank (*p))
		p++;
	if (*p == '\0' || *p == '#')
		return TRUE;
	eq = strchr (p, '=');
	if (eq == NULL || !valid_key (p, (gsize) (eq - p)))
		return malformed (error, line, "not a KEY=VALUE assignment");
	key = g_strndup (p, (gsize) (eq - p));
	if (g_hash_table_contains (seen, key))
		return malformed (error, line, "the key is given twice");
	if (!parse_value (eq + 1, line, value, error))
		return FALSE;
	if (g_str_equal (key, "ID") || g_str_equal (key, "VARIANT_ID")) {
		if (!valid_id (value->str))
			return malformed (error, line,
					  "ID and VARIANT_ID take only a-z, 0-9, '.', '_' and '-'");
		if (g_str_equal (key, "ID"))
			os->id = g_strdup (value->str);
		else
			os->variant_id = g_strdup (value->str);
	}
	g_hash_table_add (seen, g_steal_pointer (&key));
	return TRUE;
}

MuOsRelease *
mu_os_release_parse (GBytes *data, GError **error)
{
	gsize len = 0;
	const gchar *bytes = g_bytes_get_data (data, &len);
	g_autofree gchar *text = NULL;
	g_auto (GStrv) lines = NULL;
	g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr (MuOsRelease) os = g_new0 (MuOsRelease, 1);

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (len > MU_OS_RELEASE_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "os-release is %" G_GSIZE_FORMAT
			     " bytes, more than the %" G_GSIZE_FORMAT
			     " an os-release file may have",
			     len, MU_OS_RELEASE_MAX_SIZE);
		return NULL;
	}
	if (len > 0 &&
	    (memchr (bytes, '\0', len) != NULL || !g_utf8_validate (bytes, (gssize) len, NULL))) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "os-release is not UTF-8 text");
		return NULL;
	}
	text = g_strndup (len > 0 ? bytes : "", len);
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		if (!parse_line (lines[i], i + 1, seen, os, error))
			return NULL;
	return g_steal_pointer (&os);
}
