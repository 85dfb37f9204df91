/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mu-log.h"

static const gchar *
field (const MuLogRecord *record, const gchar *key)
{
	for (gsize i = 0; i < record->n_fields; i++) {
		if (g_str_equal (record->fields[i].key, key))
			return record->fields[i].value;
	}
	return NULL;
}

/* A message quoting a name from a medium reaches the journal escaped, with the identifier. */
static void
test_log_record_escapes (void)
{
	static const gchar raw[] = "Found update bundle '\033[2Jfake\nline' on the stick";
	const GLogField fields[] = {
		{ "GLIB_DOMAIN", "mediaupd", -1 },
		{ "PRIORITY", "6", -1 },
		/* not NUL-terminated where the length says so */
		{ "MESSAGE", raw, (gssize) strlen (raw) - 6 },
		{ "MEDIAUPD_EVENT", "bundle-found", -1 },
	};
	g_auto (MuLogRecord) record = { 0 };

	g_assert_true (
		mu_log_record_init (&record, G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields)));
	g_assert_cmpuint (record.n_fields, ==, G_N_ELEMENTS (fields) + 1);
	g_assert_cmpstr (field (&record, "MESSAGE"), ==,
			 "Found update bundle '\\x1b[2Jfake\\x0aline' on the");
	g_assert_cmpint (record.fields[2].length, ==, -1);
	g_assert_cmpstr (field (&record, "SYSLOG_IDENTIFIER"), ==, "mediaupd");
	g_assert_cmpstr (record.fields[record.n_fields - 1].key, ==, "SYSLOG_IDENTIFIER");
	g_assert_cmpstr (field (&record, "MEDIAUPD_EVENT"), ==, "bundle-found");
	/* the caller's fields are untouched */
	g_assert_true (fields[2].value == raw);
}

/* Debug lines are dropped unless G_MESSAGES_DEBUG names their domain. */
static void
test_log_record_debug (void)
{
	const GLogField fields[] = {
		{ "GLIB_DOMAIN", "mediaupd", -1 },
		{ "MESSAGE", "key trial 3", -1 },
	};
	g_auto (MuLogRecord) dropped = { 0 };
	g_auto (MuLogRecord) kept = { 0 };

	g_setenv ("G_MESSAGES_DEBUG", "other", TRUE);
	g_assert_false (
		mu_log_record_init (&dropped, G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS (fields)));
	g_assert_null (dropped.fields);
	g_assert_cmpuint (dropped.n_fields, ==, 0);
	g_setenv ("G_MESSAGES_DEBUG", "mediaupd", TRUE);
	g_assert_true (
		mu_log_record_init (&kept, G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS (fields)));
	g_assert_cmpstr (field (&kept, "MESSAGE"), ==, "key trial 3");
	g_unsetenv ("G_MESSAGES_DEBUG");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/log/record-escapes", test_log_record_escapes);
	g_test_add_func ("/log/record-debug", test_log_record_debug);
	return g_test_run ();
}
