/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest escaped string, in bytes; longer ones end in "...". */
#define MU_ESCAPE_MAX_LEN 2048

/*
 * Makes a string that came from a medium (a LUKS label or subsystem, a key id from a token,
 * a file name, or a message quoting one) safe to show on a terminal or write to the
 * journal: control characters (C0, DEL, C1), bidirectional-text overrides and line
 * separators become visible escapes ("\x1b", "\u202e"), bytes that are not UTF-8 become
 * "\xNN", and the result is at most MU_ESCAPE_MAX_LEN bytes. It is for people to read, not
 * to be parsed back: backslashes stay as they are, so escaping twice changes nothing and a
 * clean string comes back unchanged. NULL gives "".
 */
gchar *mu_escape_untrusted (const gchar *text) G_GNUC_WARN_UNUSED_RESULT;

/* As mu_escape_untrusted(), the result owned by @pool (a GPtrArray freeing with g_free):
 * for a printf with several such arguments. */
const gchar *mu_escape_untrusted_in (GPtrArray *pool, const gchar *text);

/* TRUE if mu_escape_untrusted() would return @text unchanged. */
gboolean mu_escape_is_clean (const gchar *text);

G_END_DECLS
