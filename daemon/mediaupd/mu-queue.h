/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Choosing among the bundles of one medium. Each candidate is checked by a worker (discover,
 * unlock, verify, check: mu_engine_check()); of those that pass, the one whose signed
 * to-commit is the newest (its timestamp; on a tie, the first in [Bundle] Names= order) is
 * installed, and the others are reported skipped (their check's error, or Superseded).
 */

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gchar *name; /* the file name at the medium's root (from the medium) */
	gchar *path;
	guint64 size;
	gboolean checked;
	GError *error; /* why it cannot be installed, once checked */
	guint64 timestamp;
	gchar *to_commit;
	gchar *version;
} MuQueueCandidate;

MuQueueCandidate *mu_queue_candidate_new (const gchar *name, const gchar *path, guint64 size);
void mu_queue_candidate_free (MuQueueCandidate *candidate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuQueueCandidate, mu_queue_candidate_free)

/* What a check worker reported: @error, or the to-commit, version and timestamp of
 * @details (a{sv}); a success without a to-commit is an error. */
void mu_queue_candidate_set_result (MuQueueCandidate *candidate, const GError *error,
				    GVariant *details);

/* The candidate to install out of @candidates (MuQueueCandidate*, all checked), or NULL
 * when none passed its check. */
MuQueueCandidate *mu_queue_choose (GPtrArray *candidates);

/* When none passed: the one whose error is the medium's result, the first that is a bundle
 * at all (not NotABundle) if there is one, else the first. */
MuQueueCandidate *mu_queue_choose_failure (GPtrArray *candidates);

G_END_DECLS
