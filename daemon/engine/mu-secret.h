/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A buffer for key material that must not leave RAM: its own anonymous pages,
 * locked against swapping (where RLIMIT_MEMLOCK allows), left out of core dumps
 * (MADV_DONTDUMP) and wiped before they are unmapped.
 */
typedef struct {
	guint8 *data;
	gsize len;
	gsize map_len;
} MuSecret;

/* @len bytes (1..MU_SECRET_MAX_LEN), zeroed. */
#define MU_SECRET_MAX_LEN 4096
MuSecret *mu_secret_new (gsize len);
MuSecret *mu_secret_new_copy (const guint8 *data, gsize len);
/* Wipes, unmaps and frees. NULL is allowed. */
void mu_secret_free (MuSecret *secret);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuSecret, mu_secret_free)

G_END_DECLS
