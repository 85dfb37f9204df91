/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-json.h"

#include <string.h>

#include "mu-escape.h"

/* The offset just past the JSON value that starts at @text[@i], or @len if it does not end
 * (json-glib then says what is wrong with it). Only the structure is followed: brackets
 * and braces outside strings, strings with their escapes, and bare scalars up to the next
 * structural character or white space. */
static gsize
value_end (const gchar *text, gsize len, gsize i)
{
	gsize depth = 0;

	if (text[i] != '{' && text[i] != '[' && text[i] != '"') {
		while (i < len && strchr (" \t\r\n{}[],:\"", text[i]) == NULL)
			i++;
		return i;
	}
	for (; i < len; i++) {
		switch (text[i]) {
		case '"':
			for (i++; i < len && text[i] != '"'; i++) {
				if (text[i] == '\\')
					i++;
			}
			if (i >= len)
				return len;
			if (depth == 0)
				return i + 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0 || --depth == 0)
				return i + 1;
			break;
		default:
			break;
		}
	}
	return len;
}

static gboolean
is_json_space (gchar c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

gboolean
mu_json_parser_load_text (JsonParser *parser, const gchar *text, gssize length, GError **error)
{
	gsize len;
	gsize i = 0;

	g_return_val_if_fail (JSON_IS_PARSER (parser), FALSE);
	g_return_val_if_fail (text != NULL || length == 0, FALSE);

	/* json-glib takes "" (and gives no root node), but not NULL. */
	if (text == NULL)
		text = "";
	len = length < 0 ? strlen (text) : (gsize) length;
	/* json-glib 1.6 takes several top-level values in one text ("a"{}, {}{}), keeps the last
	 * as the root and leaks the others: such text is refused before it builds any node. */
	while (i < len && is_json_space (text[i]))
		i++;
	if (i < len) {
		i = value_end (text, len, i);
		while (i < len && is_json_space (text[i]))
			i++;
		if (i < len) {
			g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
				     "more than one JSON value (the first ends before offset "
				     "%" G_GSIZE_FORMAT ")",
				     i);
			return FALSE;
		}
	}
	return json_parser_load_from_data (parser, text, (gssize) len, error);
}

gboolean
mu_json_parser_load_bytes (JsonParser *parser, GBytes *bytes, GError **error)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data (bytes, &len);

	if (len > G_MAXSSIZE) {
		g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
				     "too long");
		return FALSE;
	}
	return mu_json_parser_load_text (parser, data, (gssize) len, error);
}

const gchar *
mu_json_object_get_string (JsonObject *object, const gchar *name)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
	    json_node_get_value_type (node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string (node);
}

void
mu_json_builder_add_string_member (JsonBuilder *builder, const gchar *name, const gchar *value)
{
	json_builder_set_member_name (builder, name);
	if (value != NULL)
		json_builder_add_string_value (builder, value);
	else
		json_builder_add_null_value (builder);
}

void
mu_json_builder_add_text_member (JsonBuilder *builder, const gchar *name, const gchar *value)
{
	g_autofree gchar *escaped = value != NULL ? mu_escape_untrusted (value) : NULL;

	mu_json_builder_add_string_member (builder, name, escaped);
}

void
mu_json_builder_add_int_member (JsonBuilder *builder, const gchar *name, gint64 value)
{
	json_builder_set_member_name (builder, name);
	json_builder_add_int_value (builder, value);
}

void
mu_json_builder_add_boolean_member (JsonBuilder *builder, const gchar *name, gboolean value)
{
	json_builder_set_member_name (builder, name);
	json_builder_add_boolean_value (builder, value);
}

static void
add_escaped_string (JsonBuilder *builder, const gchar *text)
{
	g_autofree gchar *escaped = mu_escape_untrusted (text);

	json_builder_add_string_value (builder, escaped);
}

static gboolean
is_string_dictionary (const GVariantType *type)
{
	return g_variant_type_is_array (type) &&
	       g_variant_type_is_dict_entry (g_variant_type_element (type)) &&
	       g_variant_type_equal (g_variant_type_key (g_variant_type_element (type)),
				     G_VARIANT_TYPE_STRING);
}

static void
add_container (JsonBuilder *builder, GVariant *value)
{
	const GVariantType *type = g_variant_get_type (value);
	gsize n = g_variant_n_children (value);

	if (is_string_dictionary (type)) {
		json_builder_begin_object (builder);
		for (gsize i = 0; i < n; i++) {
			g_autoptr (GVariant) entry = g_variant_get_child_value (value, i);
			g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
			g_autoptr (GVariant) member = g_variant_get_child_value (entry, 1);
			g_autofree gchar *name = NULL;

			name = mu_escape_untrusted (g_variant_get_string (key, NULL));

			json_builder_set_member_name (builder, name);
			mu_json_builder_add_variant (builder, member);
		}
		json_builder_end_object (builder);
		return;
	}
	if (g_variant_type_is_maybe (type) && n == 0) {
		json_builder_add_null_value (builder);
		return;
	}
	if (g_variant_type_is_maybe (type)) {
		g_autoptr (GVariant) child = g_variant_get_child_value (value, 0);

		mu_json_builder_add_variant (builder, child);
		return;
	}
	json_builder_begin_array (builder);
	for (gsize i = 0; i < n; i++) {
		g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

		mu_json_builder_add_variant (builder, child);
	}
	json_builder_end_array (builder);
}

void
mu_json_builder_add_variant (JsonBuilder *builder, GVariant *value)
{
	g_return_if_fail (value != NULL);

	switch (g_variant_classify (value)) {
	case G_VARIANT_CLASS_BOOLEAN:
		json_builder_add_boolean_value (builder, g_variant_get_boolean (value));
		return;
	case G_VARIANT_CLASS_BYTE:
		json_builder_add_int_value (builder, g_variant_get_byte (value));
		return;
	case G_VARIANT_CLASS_INT16:
		json_builder_add_int_value (builder, g_variant_get_int16 (value));
		return;
	case G_VARIANT_CLASS_UINT16:
		json_builder_add_int_value (builder, g_variant_get_uint16 (value));
		return;
	case G_VARIANT_CLASS_INT32:
		json_builder_add_int_value (builder, g_variant_get_int32 (value));
		return;
	case G_VARIANT_CLASS_UINT32:
		json_builder_add_int_value (builder, g_variant_get_uint32 (value));
		return;
	case G_VARIANT_CLASS_HANDLE:
		json_builder_add_int_value (builder, g_variant_get_handle (value));
		return;
	case G_VARIANT_CLASS_INT64:
		json_builder_add_int_value (builder, g_variant_get_int64 (value));
		return;
	case G_VARIANT_CLASS_UINT64:
		json_builder_add_int_value (builder, (gint64) MIN (g_variant_get_uint64 (value),
								   (guint64) G_MAXINT64));
		return;
	case G_VARIANT_CLASS_DOUBLE:
		json_builder_add_double_value (builder, g_variant_get_double (value));
		return;
	case G_VARIANT_CLASS_STRING:
	case G_VARIANT_CLASS_OBJECT_PATH:
	case G_VARIANT_CLASS_SIGNATURE:
		add_escaped_string (builder, g_variant_get_string (value, NULL));
		return;
	case G_VARIANT_CLASS_VARIANT: {
		g_autoptr (GVariant) inner = g_variant_get_variant (value);

		mu_json_builder_add_variant (builder, inner);
		return;
	}
	case G_VARIANT_CLASS_ARRAY:
		if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING)) {
			/* Not necessarily nul-terminated: copy out the bytes. */
			gsize len = 0;
			const gchar *data = g_variant_get_fixed_array (value, &len, 1);
			g_autofree gchar *text = g_strndup (data, len);

			add_escaped_string (builder, text);
			return;
		}
		add_container (builder, value);
		return;
	case G_VARIANT_CLASS_MAYBE:
	case G_VARIANT_CLASS_TUPLE:
	case G_VARIANT_CLASS_DICT_ENTRY:
		add_container (builder, value);
		return;
	}
	json_builder_add_null_value (builder);
}

gchar *
mu_json_builder_to_line (JsonBuilder *builder)
{
	g_autoptr (JsonNode) root = json_builder_get_root (builder);

	g_return_val_if_fail (root != NULL, NULL);
	return json_to_string (root, FALSE);
}
