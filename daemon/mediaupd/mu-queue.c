/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-error.h"
#include "mu-queue.h"

MuQueueCandidate *
mu_queue_candidate_new (const gchar *name, const gchar *path, guint64 size)
{
	MuQueueCandidate *c = g_new0 (MuQueueCandidate, 1);

	c->name = g_strdup (name);
	c->path = g_strdup (path);
	c->size = size;
	return c;
}

void
mu_queue_candidate_free (MuQueueCandidate *c)
{
	if (c == NULL)
		return;
	g_free (c->name);
	g_free (c->path);
	g_clear_error (&c->error);
	g_free (c->to_commit);
	g_free (c->version);
	g_free (c);
}

void
mu_queue_candidate_set_result (MuQueueCandidate *c, const GError *error, GVariant *details)
{
	const gchar *commit = NULL;
	const gchar *version = NULL;

	c->checked = TRUE;
	g_clear_error (&c->error);
	if (error != NULL) {
		c->error = g_error_copy (error);
		return;
	}
	if (details == NULL || !g_variant_lookup (details, "to-commit", "&s", &commit) ||
	    !g_variant_lookup (details, "timestamp", "t", &c->timestamp)) {
		c->error = g_error_new_literal (MU_ERROR, MU_ERROR_WORKER_FAILED,
						"the check reported no commit");
		return;
	}
	c->to_commit = g_strdup (commit);
	if (g_variant_lookup (details, "version", "&s", &version))
		c->version = g_strdup (version);
}

MuQueueCandidate *
mu_queue_choose (GPtrArray *candidates)
{
	MuQueueCandidate *best = NULL;

	for (guint i = 0; i < candidates->len; i++) {
		MuQueueCandidate *c = candidates->pdata[i];

		if (!c->checked || c->error != NULL)
			continue;
		if (best == NULL || c->timestamp > best->timestamp)
			best = c;
	}
	return best;
}

MuQueueCandidate *
mu_queue_choose_failure (GPtrArray *candidates)
{
	for (guint i = 0; i < candidates->len; i++) {
		MuQueueCandidate *c = candidates->pdata[i];

		if (c->error != NULL &&
		    !g_error_matches (c->error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE))
			return c;
	}
	return candidates->len > 0 ? candidates->pdata[0] : NULL;
}
