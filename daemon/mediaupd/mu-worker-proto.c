/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-error.h"
#include "mu-worker-proto.h"

#define PROGRESS_TYPE "(suttuu)"
#define RESULT_TYPE "(bssa{sv})"

/* The details a result may carry, each with its one type. */
static const struct {
	const gchar *key;
	const gchar *type;
} detail_keys[] = {
	/* install and check */
	{ "to-commit", "s" },
	{ "from-commit", "s" },
	{ "version", "s" },
	{ "timestamp", "t" },
	{ "osname", "s" },
	{ "key-id", "s" },
	{ "keyslot", "i" },
	{ "signing-key", "s" },
	{ "phase", "s" },
	/* inspect */
	{ "format", "s" },
	{ "label", "s" },
	{ "subsystem", "s" },
	{ "size", "t" },
	{ "keyslots", "ai" },
	{ "key_ids", "as" },
	{ "device_key_ids", "as" },
};

void
mu_worker_message_clear (MuWorkerMessage *message)
{
	g_clear_error (&message->error);
	g_clear_pointer (&message->details, g_variant_unref);
}

GBytes *
mu_worker_message_new_progress (const MuProgressState *s)
{
	g_autoptr (GVariant) v = g_variant_ref_sink (
		g_variant_new ("(sv)", "progress",
			       g_variant_new (PROGRESS_TYPE, mu_phase_to_string (s->phase),
					      s->percentage, s->bytes_done, s->bytes_total,
					      s->items_done, s->items_total)));

	return g_variant_get_data_as_bytes (v);
}

GBytes *
mu_worker_message_new_result (const GError *error, GVariant *details)
{
	g_autoptr (GVariant) v = NULL;
	const gchar *name = "";
	g_autofree gchar *message = NULL;

	if (error != NULL) {
		name = mu_error_code_to_name (error->domain == MU_ERROR ? error->code
									: MU_ERROR_FAILED);
		/* Bounded here too, so that a long message is cut, not refused. */
		message = g_utf8_make_valid (error->message, -1);
		if (strlen (message) > MU_WORKER_STRING_MAX - 4) {
			gchar *end = g_utf8_find_prev_char (message,
							    message + MU_WORKER_STRING_MAX - 4);

			strcpy (end, "...");
		}
	}
	v = g_variant_ref_sink (
		g_variant_new ("(sv)", "result",
			       g_variant_new ("(bss@a{sv})", error == NULL, name,
					      message != NULL ? message : "",
					      details != NULL
						      ? details
						      : g_variant_new_array (G_VARIANT_TYPE (
										     "{sv}"),
									     NULL, 0))));
	return g_variant_get_data_as_bytes (v);
}

static gboolean
fail (GError **error, const gchar *what)
{
	g_set_error (error, MU_ERROR, MU_ERROR_WORKER_FAILED,
		     "the install process sent a malformed message (%s)", what);
	return FALSE;
}

static gboolean
string_ok (const gchar *s)
{
	return strlen (s) <= MU_WORKER_STRING_MAX && g_utf8_validate (s, -1, NULL);
}

static gboolean
phase_from_string (const gchar *name, MuPhase *out_phase)
{
	for (guint i = 0; i < MU_PHASE_LAST; i++) {
		if (g_str_equal (name, mu_phase_to_string (i))) {
			*out_phase = i;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean
error_code_from_name (const gchar *name, gint *out_code)
{
	for (gint i = 0; i < MU_ERROR_LAST; i++) {
		if (g_str_equal (name, mu_error_code_to_name (i))) {
			*out_code = i;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean
parse_progress (GVariant *v, MuWorkerMessage *out, GError **error)
{
	const gchar *phase = NULL;
	MuProgressState *s = &out->progress;

	if (!g_variant_is_of_type (v, G_VARIANT_TYPE (PROGRESS_TYPE)))
		return fail (error, "progress of the wrong type");
	g_variant_get (v, "(&suttuu)", &phase, &s->percentage, &s->bytes_done, &s->bytes_total,
		       &s->items_done, &s->items_total);
	if (!phase_from_string (phase, &s->phase))
		return fail (error, "unknown phase");
	if (s->percentage > 100 || s->bytes_done > s->bytes_total || s->items_done > s->items_total)
		return fail (error, "progress out of range");
	out->kind = MU_WORKER_MESSAGE_PROGRESS;
	return TRUE;
}

/* Strings in @v (s or as) valid and bounded, arrays bounded. */
static gboolean
value_ok (GVariant *v)
{
	if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
		return string_ok (g_variant_get_string (v, NULL));
	if (g_variant_is_of_type (v, G_VARIANT_TYPE_ARRAY)) {
		gsize n = g_variant_n_children (v);

		if (n > MU_WORKER_ARRAY_MAX)
			return FALSE;
		for (gsize i = 0; i < n; i++) {
			g_autoptr (GVariant) child = g_variant_get_child_value (v, i);

			if (!value_ok (child))
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean
details_ok (GVariant *details)
{
	GVariantIter iter;
	const gchar *key;
	GVariant *value;
	g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

	if (g_variant_n_children (details) > G_N_ELEMENTS (detail_keys))
		return FALSE;
	g_variant_iter_init (&iter, details);
	while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
		gboolean known = FALSE;

		for (guint i = 0; i < G_N_ELEMENTS (detail_keys) && !known; i++)
			known = g_str_equal (key, detail_keys[i].key) &&
				g_variant_is_of_type (value, G_VARIANT_TYPE (detail_keys[i].type));
		if (!known || !g_hash_table_add (seen, (gpointer) key) || !value_ok (value)) {
			g_variant_unref (value);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
parse_result (GVariant *v, MuWorkerMessage *out, GError **error)
{
	gboolean success = FALSE;
	const gchar *name = NULL;
	const gchar *message = NULL;
	g_autoptr (GVariant) details = NULL;
	gint code = MU_ERROR_FAILED;

	if (!g_variant_is_of_type (v, G_VARIANT_TYPE (RESULT_TYPE)))
		return fail (error, "result of the wrong type");
	g_variant_get (v, "(b&s&s@a{sv})", &success, &name, &message, &details);
	if (!string_ok (message))
		return fail (error, "message too long or not UTF-8");
	if (success && (*name != '\0' || *message != '\0'))
		return fail (error, "success with an error");
	if (!success && !error_code_from_name (name, &code))
		return fail (error, "unknown error name");
	if (!details_ok (details))
		return fail (error, "unknown or malformed detail");
	if (!success)
		out->error = g_error_new_literal (MU_ERROR, code, message);
	out->details = g_steal_pointer (&details);
	out->kind = MU_WORKER_MESSAGE_RESULT;
	return TRUE;
}

gboolean
mu_worker_message_parse (GBytes *bytes, MuWorkerMessage *out_message, GError **error)
{
	g_autoptr (GVariant) v = NULL;
	g_autoptr (GVariant) body = NULL;
	g_auto (MuWorkerMessage) message = { 0 };
	const gchar *tag = NULL;
	gboolean ok;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (g_bytes_get_size (bytes) > MU_WORKER_MESSAGE_MAX)
		return fail (error, "too large");
	v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("(sv)"), bytes, FALSE));
	if (!g_variant_is_normal_form (v))
		return fail (error, "not in normal form");
	g_variant_get (v, "(&sv)", &tag, &body);
	if (g_str_equal (tag, "progress"))
		ok = parse_progress (body, &message, error);
	else if (g_str_equal (tag, "result"))
		ok = parse_result (body, &message, error);
	else
		ok = fail (error, "unknown kind");
	if (!ok)
		return FALSE;
	*out_message = message;
	message = (MuWorkerMessage){ 0 };
	return TRUE;
}
