/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The discover step on a mounted medium: which files at its root may be bundles. Only the
 * configured names ([Bundle] Names=), only regular files (no symlinks, devices, FIFOs,
 * directories), only within [Bundle] MaxSize=. Nothing here reads a file's content.
 */

#include <glib.h>

#include "mu-config.h"

G_BEGIN_DECLS

typedef struct {
	gchar *name; /* the file name at the medium's root (from the medium: escape to print) */
	gchar *path; /* mount point + name */
	guint64 size;
} MuCandidate;

void mu_candidate_free (MuCandidate *candidate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuCandidate, mu_candidate_free)

/*
 * The candidates at the root of @mount_path, in the order of [Bundle] Names=. Files that are
 * named like a bundle but refused (not a regular file, too large) are in @ret_rejected
 * (optional) with the reason as a GError each (MuCandidate + error pairs: see below), so the
 * daemon can report them. Fails only if @mount_path itself cannot be read.
 */
typedef struct {
	MuCandidate *candidate;
	GError *error;
} MuCandidateRejected;

void mu_candidate_rejected_free (MuCandidateRejected *rejected);

G_GNUC_WARN_UNUSED_RESULT
GPtrArray *mu_candidates_find (const MuConfig *config, const gchar *mount_path,
			       GPtrArray **ret_rejected, GError **error);

G_END_DECLS
