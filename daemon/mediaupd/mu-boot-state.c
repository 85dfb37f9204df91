/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-boot-state.h"

static gboolean
none_mark_good (MuDaemonState *state, const gchar *commit, GError **error)
{
	g_free (state->last_good_commit);
	state->last_good_commit = g_strdup (commit);
	return TRUE;
}

static const MuBootBackend backend_none = {
	.name = "none",
	.mark_good = none_mark_good,
};

static const MuBootBackend *const backends[] = { &backend_none };

const MuBootBackend *
mu_boot_backend_get_by_name (const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS (backends); i++) {
		if (g_strcmp0 (backends[i]->name, name) == 0)
			return backends[i];
	}
	return NULL;
}
