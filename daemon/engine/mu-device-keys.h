/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-key.h"

G_BEGIN_DECLS

/*
 * Loads the device's LUKS keys: every ID.cred (sealed, mu-credentials.h) and ID.key
 * (plain) file of @dirs, in order; a key in a later directory replaces one with the same
 * id from an earlier one (so /etc/mediaupd/keys overrides /usr/share/mediaupd/keys).
 * Within one directory a sealed key wins over a plain one of the same id, which is used
 * only if the sealed one does not decrypt. Each plain key used is logged as a warning
 * event (MU_EVENT_KEY_PLAIN_ID) that says how to seal it. Key files readable or writable
 * by group or others, or not regular files, and credentials that do not decrypt on this
 * device are refused: each refusal is logged and added to @refused (optional, messages)
 * and the file is skipped. No usable key at all is
 * MU_ERROR_NO_KEY. Returns MuKey* in a stable order: by id. The calling process is made
 * non-dumpable first (PR_SET_DUMPABLE 0: no core dump, no ptrace by other users).
 */
G_GNUC_WARN_UNUSED_RESULT
GPtrArray *mu_device_keys_load (const gchar *const *dirs, GPtrArray *refused, GError **error);

G_END_DECLS
