/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mu-candidates.h"
#include "mu-file.h"
#include "mu-error.h"
#include "mu-escape.h"

void
mu_candidate_free (MuCandidate *candidate)
{
	if (candidate == NULL)
		return;
	g_free (candidate->name);
	g_free (candidate->path);
	g_free (candidate);
}

void
mu_candidate_rejected_free (MuCandidateRejected *rejected)
{
	if (rejected == NULL)
		return;
	mu_candidate_free (rejected->candidate);
	g_clear_error (&rejected->error);
	g_free (rejected);
}

static MuCandidate *
candidate_new (const gchar *mount_path, const gchar *name, guint64 size)
{
	MuCandidate *candidate = g_new0 (MuCandidate, 1);

	candidate->name = g_strdup (name);
	candidate->path = g_build_filename (mount_path, name, NULL);
	candidate->size = size;
	return candidate;
}

static void
add_rejected (GPtrArray *rejected, const gchar *mount_path, const gchar *name, guint64 size,
	      GError *error)
{
	MuCandidateRejected *r = g_new0 (MuCandidateRejected, 1);

	r->candidate = candidate_new (mount_path, name, size);
	r->error = error;
	g_ptr_array_add (rejected, r);
}

/* A name from [Bundle] Names= that can only mean a file at the medium's root. */
static gboolean
name_is_plain (const gchar *name)
{
	return *name != '\0' && strchr (name, '/') == NULL && strcmp (name, ".") != 0 &&
	       strcmp (name, "..") != 0;
}

/*
 * Looks at @name beneath @root_fd without following a symlink. The name is opened O_PATH:
 * that neither blocks on a FIFO, nor runs a device driver's open, nor makes a terminal ours,
 * so even a device node on a medium mounted without nodev does nothing. What was opened is
 * checked, not what the name pointed to a moment before; the engine opens the file for
 * reading later and checks it again. Returns FALSE with @ret_error unset if there is no such
 * file (not a candidate, nothing to report).
 */
static gboolean
check_one (int root_fd, const gchar *name, guint64 max_size, guint64 *ret_size, GError **ret_error)
{
	g_autofree gchar *shown = mu_escape_untrusted (name);
	struct stat st;
	int fd, saved;

	fd = openat (root_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT)
			return FALSE;
		g_set_error (ret_error, MU_ERROR, MU_ERROR_IO, "cannot open '%s' on the medium: %s",
			     shown, g_strerror (saved));
		return FALSE;
	}
	if (fstat (fd, &st) < 0) {
		saved = errno;
		close (fd);
		g_set_error (ret_error, MU_ERROR, MU_ERROR_IO, "cannot read '%s' on the medium: %s",
			     shown, g_strerror (saved));
		return FALSE;
	}
	close (fd);
	if (!S_ISREG (st.st_mode)) {
		g_set_error (ret_error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' on the medium is %s, not a regular file; copy the bundle file "
			     "itself to the medium",
			     shown, mu_file_describe_mode (st.st_mode));
		return FALSE;
	}
	if ((guint64) st.st_size > max_size) {
		g_set_error (ret_error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "'%s' on the medium has %" G_GUINT64_FORMAT " bytes, more than the "
			     "%" G_GUINT64_FORMAT " of [Bundle] MaxSize=; raise MaxSize= if the "
			     "bundle is genuine",
			     shown, (guint64) st.st_size, max_size);
		return FALSE;
	}
	*ret_size = (guint64) st.st_size;
	return TRUE;
}

GPtrArray *
mu_candidates_find (const MuConfig *config, const gchar *mount_path, GPtrArray **ret_rejected,
		    GError **error)
{
	g_autoptr (GPtrArray) found = NULL;
	g_autoptr (GPtrArray) rejected = NULL;
	int root_fd;

	g_return_val_if_fail (config != NULL, NULL);
	g_return_val_if_fail (mount_path != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	root_fd = open (mount_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root_fd < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR,
			     saved == ENOENT ? MU_ERROR_MEDIA_REMOVED : MU_ERROR_IO,
			     "discover: cannot open the medium at %s: %s", mount_path,
			     g_strerror (saved));
		return NULL;
	}

	found = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_candidate_free);
	rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_candidate_rejected_free);
	for (guint i = 0; config->bundle_names != NULL && config->bundle_names[i] != NULL; i++) {
		const gchar *name = config->bundle_names[i];
		g_autoptr (GError) local_error = NULL;
		guint64 size = 0;
		gboolean seen = FALSE;

		/* The same name twice in Names= is one file. */
		for (guint j = 0; j < i && !seen; j++)
			seen = strcmp (config->bundle_names[j], name) == 0;
		if (seen)
			continue;
		if (!name_is_plain (name)) {
			g_set_error (&local_error, MU_ERROR, MU_ERROR_CONFIG,
				     "[Bundle] Names= holds '%s', which is not a plain file name; "
				     "only files at the medium's root are bundles",
				     name);
			add_rejected (rejected, mount_path, name, 0,
				      g_steal_pointer (&local_error));
			continue;
		}
		if (check_one (root_fd, name, config->bundle_max_size, &size, &local_error)) {
			g_ptr_array_add (found, candidate_new (mount_path, name, size));
			continue;
		}
		if (local_error != NULL)
			add_rejected (rejected, mount_path, name, 0,
				      g_steal_pointer (&local_error));
	}
	close (root_fd);

	if (ret_rejected != NULL)
		*ret_rejected = g_steal_pointer (&rejected);
	return g_steal_pointer (&found);
}
