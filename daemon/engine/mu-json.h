/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Small JSON helpers shared by the programs: reading libcryptsetup's header dump, and
 * writing the objects that mediaupdctl and mediaupd-bundle print with --json.
 */

/* Parses @text (@length bytes, or up to its NUL when @length is -1) with @parser. Text
 * that holds more than one top-level value (json-glib 1.6 would keep the last and leak the
 * others) is an error, JSON_PARSER_ERROR_INVALID_DATA, before json-glib sees it. NULL text
 * with @length 0 parses as "" does, to no root node. */
gboolean mu_json_parser_load_text (JsonParser *parser, const gchar *text, gssize length,
				   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* As mu_json_parser_load_text(), for @bytes. Empty bytes (whose data may be NULL) parse as "" does, to no
 * root node, rather than being a misuse of json-glib; more than G_MAXSSIZE is an error. */
gboolean mu_json_parser_load_bytes (JsonParser *parser, GBytes *bytes,
				    GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The string member @name of @object, or NULL if absent or not a string. */
const gchar *mu_json_object_get_string (JsonObject *object, const gchar *name);

/* Adds member @name to the object being built: the string @value, or null when NULL. */
void mu_json_builder_add_string_member (JsonBuilder *builder, const gchar *name,
					const gchar *value);

/* As mu_json_builder_add_string_member(), for text that may come from a medium (a label,
 * a key id, a message quoting one): escaped with mu_escape_untrusted(), or null. */
void mu_json_builder_add_text_member (JsonBuilder *builder, const gchar *name, const gchar *value);

void mu_json_builder_add_int_member (JsonBuilder *builder, const gchar *name, gint64 value);
void mu_json_builder_add_boolean_member (JsonBuilder *builder, const gchar *name, gboolean value);

/*
 * Adds @value (a GVariant of any type) as a JSON value: numbers and booleans as such,
 * strings, object paths and signatures escaped as by mu_escape_untrusted(), a dictionary
 * with string keys as an object, other arrays, tuples and maybe-types as arrays (a missing
 * maybe as null), a variant as what it holds, a byte string as a string. Unsigned 64-bit
 * numbers above G_MAXINT64 become G_MAXINT64 (JSON readers lose them anyway).
 */
void mu_json_builder_add_variant (JsonBuilder *builder, GVariant *value);

/* The object or array built so far as one line of compact JSON, without a newline. */
gchar *mu_json_builder_to_line (JsonBuilder *builder) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
