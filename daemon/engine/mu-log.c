/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-escape.h"
#include "mu-log.h"

gboolean
mu_log_record_init (MuLogRecord *record, GLogLevelFlags level, const GLogField *fields,
		    gsize n_fields)
{
	g_autofree GLogField *with_id = NULL;
	g_autofree gchar *message = NULL;
	const gchar *domain = NULL;

	*record = (MuLogRecord){ 0 };
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
	}
	if (g_log_writer_default_would_drop (level, domain))
		return FALSE;

	with_id = g_new (GLogField, n_fields + 1);
	for (gsize i = 0; i < n_fields; i++) {
		with_id[i] = fields[i];
		if (g_str_equal (fields[i].key, "MESSAGE") && message == NULL) {
			g_autofree gchar *raw = fields[i].length < 0
							? g_strdup (fields[i].value)
							: g_strndup (fields[i].value,
								     (gsize) fields[i].length);

			message = mu_escape_untrusted (raw);
			with_id[i].value = message;
			with_id[i].length = -1;
		}
	}
	with_id[n_fields] = (GLogField){ "SYSLOG_IDENTIFIER", "mediaupd", -1 };
	record->fields = g_steal_pointer (&with_id);
	record->n_fields = n_fields + 1;
	record->message = g_steal_pointer (&message);
	return TRUE;
}

void
mu_log_record_clear (MuLogRecord *record)
{
	g_clear_pointer (&record->fields, g_free);
	g_clear_pointer (&record->message, g_free);
	record->n_fields = 0;
}
