/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <ostree.h>

#include "mu-os-release.h"

G_BEGIN_DECLS

/*
 * What goes inside a bundle, made the way the format 1 maker made it (make-v1-bundle.sh): the
 * commits from an OSTree repository, the static delta between them, and the read-only inner
 * filesystem image (mkfs tools as subprocesses), and reading that image back.
 */

typedef struct {
	OstreeRepo *repo;
	gchar *ref;
	gchar *to_commit;
	gchar *from_commit; /* NULL for a full update */
	gchar *to_version;  /* NULL if the commit has none */
	gchar *from_version;
	MuOsRelease *os;  /* ID and VARIANT_ID of the to-commit's os-release */
	gchar *os_pretty; /* its PRETTY_NAME, or NULL (informational) */
} MuToolCommits;

void mu_tool_commits_free (MuToolCommits *commits);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuToolCommits, mu_tool_commits_free)

/* Opens @repo_path and resolves @ref, @to (or the ref's head) and @from (NULL: full
 * update), with messages that say what to check. */
MuToolCommits *mu_tool_commits_resolve (const gchar *repo_path, const gchar *ref, const gchar *to,
					const gchar *from,
					GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The static delta from->to as files in @dir: "superblock" (unsigned) and the parts
 * "0", "1", ...: no inline parts, no fallback objects. Returns the number of parts. */
gboolean mu_tool_generate_delta (MuToolCommits *commits, const gchar *dir, guint *ret_n_parts,
				 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Runs @argv (logged at debug level) with its output kept; on failure the error names
 * @what and quotes the output's last lines. */
gboolean mu_tool_run (const gchar *what, const gchar *const *argv,
		      GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Inner filesystems: "erofs", "squashfs", "ext4". */
gboolean mu_tool_fs_is_known (const gchar *fs);

/* Builds the @fs image @image of the tree @root (every file root's, 0644/0755), padded to a
 * whole number of 4096-byte sectors (and at least two). */
gboolean mu_tool_build_image (const gchar *fs, const gchar *root, const gchar *image,
			      const gchar *work_dir, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Extracts the @fs image @image into @dest (which must not exist) and compares the tree
 * with @root: the same names, types and contents. */
gboolean mu_tool_check_extracted (const gchar *fs, const gchar *image, const gchar *dest,
				  const gchar *root, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* rm -rf @path (no symlinks followed); TRUE if nothing is left. */
gboolean mu_tool_remove_tree (const gchar *path);

G_END_DECLS
