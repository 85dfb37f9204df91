/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every fuzz target shares: libFuzzer's entry points, logging that stays quiet but
 * turns a GLib warning or critical (a failed g_return_if_fail(), a bad g_variant_get()
 * format) into a crash, and a keyring that trusts keys-example's signing key, so inputs
 * signed with that key reach the code behind a good signature.
 */
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "mu-keyring.h"

G_BEGIN_DECLS

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Trusts keys-example/trusted.ed25519; made once, owned by the fuzz target. */
MuKeyring *mu_fuzz_get_keyring (void);

/* @data as a NUL-terminated string (up to its first NUL byte), for parsers taking text. */
gchar *mu_fuzz_strndup (const uint8_t *data, size_t size) G_GNUC_WARN_UNUSED_RESULT;

/* Splits @data at its first '\n': the text before it (NUL-terminated) and the bytes after
 * it (all of @data and an empty string when there is no '\n'). */
GBytes *mu_fuzz_split_line (const uint8_t *data, size_t size,
			    gchar **ret_line) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
