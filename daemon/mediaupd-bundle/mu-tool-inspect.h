/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* inspect for format v2 bundles (mu-tool-inspect-v2.c); v1 stays in mu-tool-inspect.c. */

/* TRUE if @path is a LUKS2 file labelled as a mediaupd bundle of format v2. */
gboolean mu_tool_inspect_is_v2 (const gchar *path);

/* Shows the signed header (not verified unless @trusted names key files), the keyslots and,
 * with @key_path, the slot that key opens. Returns the exit status. */
int mu_tool_inspect_v2 (const gchar *path, const gchar *key_path, gchar **trusted, gboolean json);

G_END_DECLS
