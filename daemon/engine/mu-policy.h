/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-os-release.h"

G_BEGIN_DECLS

/* What runs now: read from the booted deployment, its origin and the sysroot repo. */
typedef struct {
	const gchar *commit;        /* booted commit checksum */
	const gchar *origin_ref;    /* ref of the origin refspec, without "remote:" */
	const gchar *collection_id; /* the repo's collection id, or NULL */
	guint64 timestamp;          /* commit timestamp, seconds */
	const gchar *version;       /* "version" commit metadata, or NULL */
	const gchar *os_id;         /* ID in the booted tree's usr/lib/os-release, or NULL */
	const gchar *os_variant_id; /* its VARIANT_ID, or NULL */
	/* The deployment an earlier install made the default, not booted yet; NULL if none. */
	const gchar *pending_commit;
	guint64 pending_timestamp;
	const gchar *pending_version;
} MuPolicySystem;

/* What the bundle brings: only values covered by the verified signature. */
typedef struct {
	const gchar *to_commit;
	const gchar *from_commit; /* NULL for a full (--empty) delta */
	gboolean from_present;    /* the from-commit is in the sysroot repo */
	guint64 timestamp;
	const gchar *version;             /* NULL if the commit has none */
	const gchar *const *ref_bindings; /* "ostree.ref-binding", NULL if absent */
	const gchar *collection_binding;  /* "ostree.collection-binding", NULL if absent */
	guint64 needed_bytes;             /* the delta's uncompressed size */
} MuPolicyUpdate;

typedef struct {
	gboolean allow_downgrade;
	gboolean require_bindings; /* refuse a commit bound to no ref or collection */
	guint64 free_bytes;        /* free in the sysroot repo's filesystem */
	guint64 margin_bytes;      /* kept free beyond needed_bytes */
	/* Commits that failed to boot here (mu-blacklist.h), NULL-terminated, or NULL. */
	const gchar *const *blacklist;
} MuPolicyLimits;

/*
 * Decides whether @update may be applied on @system. Refusals, in the order checked:
 * MU_ERROR_BLACKLISTED (the to-commit is on @limits->blacklist), MU_ERROR_WRONG_OS (ref or collection binding does not name this device's OS; or no
 * binding at all while bindings are required or this device's OS has no ID to compare the
 * tree with), MU_ERROR_ALREADY_INSTALLED (the booted or the pending commit),
 * MU_ERROR_DOWNGRADE (older timestamp, or lower version when both have one, than the
 * booted or the pending deployment; unless allowed), MU_ERROR_MISSING_FROM_COMMIT,
 * MU_ERROR_NO_SPACE.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_policy_check (const MuPolicySystem *system, const MuPolicyUpdate *update,
			  const MuPolicyLimits *limits, GError **error);

/* The first check of mu_policy_check(), on its own: it needs nothing of the system, so the
 * engine makes it before it even opens the sysroot. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_policy_check_blacklist (const MuPolicyUpdate *update, const gchar *const *blacklist,
				    GError **error);

/*
 * A commit bound to no ref and no collection says which OS it is for only in its tree:
 * after the apply, mu_policy_check_tree_os() must accept the tree's os-release.
 */
gboolean mu_policy_needs_tree_check (const MuPolicyUpdate *update);

/*
 * The tree of an unbound commit is for this device's OS: its os-release @tree has the
 * booted tree's ID, and its VARIANT_ID when the booted tree has one. Else MU_ERROR_WRONG_OS.
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_policy_check_tree_os (const MuPolicySystem *system, const MuOsRelease *tree,
				  GError **error);

/* Compares version strings as people read them: "1.10" > "1.9", "v2026.2" > "v2026.1". */
gint mu_version_compare (const gchar *a, const gchar *b);

G_END_DECLS
