/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A log line as mediaupd's programs hand it to the journal: MESSAGE escaped (it may quote
 * names from a medium, whatever logged it) and SYSLOG_IDENTIFIER=mediaupd added, so that
 * support staff find the lines of the daemon and of `mediaupdctl apply --local` alike. Each
 * program's GLogWriterFunc builds one and decides where it goes besides the journal.
 */
typedef struct {
	GLogField *fields; /* the caller's fields, MESSAGE replaced, the identifier last */
	gsize n_fields;
	gchar *message; /* the escaped MESSAGE the fields point at */
} MuLogRecord;

/*
 * Fills @record from @fields. FALSE when GLib's default writer would drop @level for its
 * domain (debug output only where G_MESSAGES_DEBUG asks for it): then there is nothing to
 * write and @record stays empty.
 */
gboolean mu_log_record_init (MuLogRecord *record, GLogLevelFlags level, const GLogField *fields,
			     gsize n_fields);
void mu_log_record_clear (MuLogRecord *record);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuLogRecord, mu_log_record_clear)

G_END_DECLS
