/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-ostree.h"

/*
 * Progress of libostree's offline apply, which has no callback of its own: watch the
 * directory holding the part files and count a part as done when the next one is opened
 * (libostree executes parts in order).
 */
typedef struct {
	int fd;
	gint stop;
	const MuDeltaInfo *info;
	MuProgress *progress;
	GThread *thread;
} PartWatch;

static void
report_parts_done (PartWatch *w, guint done)
{
	guint64 bytes = 0;

	for (guint i = 0; i < done && i < w->info->n_parts; i++)
		bytes += w->info->part_compressed[i];
	mu_progress_set_items (w->progress, done, w->info->n_parts);
	mu_progress_set_bytes (w->progress, bytes, w->info->total_compressed);
}

static void
handle_events (PartWatch *w, const gchar *buf, gssize len, guint *done)
{
	for (const gchar *p = buf; p < buf + len;) {
		const struct inotify_event *ev = (const struct inotify_event *) p;
		guint64 index = 0;

		if (ev->len > 0 && (ev->mask & IN_OPEN) &&
		    g_ascii_string_to_unsigned (ev->name, 10, 0, G_MAXUINT, &index, NULL) &&
		    index < w->info->n_parts && (guint) index > *done) {
			*done = (guint) index;
			report_parts_done (w, *done);
		}
		p += sizeof (struct inotify_event) + ev->len;
	}
}

static gpointer
part_watch_thread (gpointer data)
{
	PartWatch *w = data;
	guint done = 0;
	gchar buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));

	while (!g_atomic_int_get (&w->stop)) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		gssize len;

		if (poll (&pfd, 1, 100) <= 0)
			continue;
		len = read (w->fd, buf, sizeof (buf));
		if (len > 0)
			handle_events (w, buf, len, &done);
	}
	return NULL;
}

static PartWatch *
part_watch_start (const gchar *parts_dir, const MuDeltaInfo *info, MuProgress *progress)
{
	PartWatch *w;
	int fd;

	if (progress == NULL)
		return NULL;
	fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (inotify_add_watch (fd, parts_dir, IN_OPEN) < 0) {
		g_debug ("apply: no part progress: cannot watch %s: %s", parts_dir,
			 g_strerror (errno));
		close (fd);
		return NULL;
	}
	w = g_new0 (PartWatch, 1);
	w->fd = fd;
	w->info = info;
	w->progress = progress;
	report_parts_done (w, 0);
	w->thread = g_thread_new ("mu-part-watch", part_watch_thread, w);
	return w;
}

static void
part_watch_stop (PartWatch *w, gboolean success)
{
	if (w == NULL)
		return;
	g_atomic_int_set (&w->stop, 1);
	g_thread_join (w->thread);
	close (w->fd);
	if (success)
		report_parts_done (w, w->info->n_parts);
	g_free (w);
}

/* Part files come from an untrusted filesystem: only regular files of the size the
 * verified superblock gives, never symlinks, FIFOs or devices. */
static gboolean
check_part_file (const gchar *parts_dir, guint i, guint64 expected_size, GError **error)
{
	g_autofree gchar *name = g_strdup_printf ("%u", i);
	g_autofree gchar *path = g_build_filename (parts_dir, name, NULL);
	struct stat st;

	if (lstat (path, &st) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR,
			     saved == ENOENT ? MU_ERROR_CORRUPT_DELTA : MU_ERROR_MEDIA_REMOVED,
			     "delta part %u: %s", i, g_strerror (saved));
		return FALSE;
	}
	if (!S_ISREG (st.st_mode) || (guint64) st.st_size != expected_size) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "delta part %u is not a regular file of %" G_GUINT64_FORMAT " bytes",
			     i, expected_size);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fill_apply_dir (const gchar *dir, GBytes *superblock, const MuDeltaInfo *info,
		const gchar *parts_dir, GError **error)
{
	g_autofree gchar *sb_path = g_build_filename (dir, "superblock", NULL);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data (superblock, &len);

	if (!g_file_set_contents_full (sb_path, (const gchar *) data, (gssize) len,
				       G_FILE_SET_CONTENTS_NONE, 0600, error))
		return FALSE;
	for (guint i = 0; i < info->n_parts; i++) {
		g_autofree gchar *name = g_strdup_printf ("%u", i);
		g_autofree gchar *target = g_build_filename (parts_dir, name, NULL);
		g_autofree gchar *link = g_build_filename (dir, name, NULL);

		if (!check_part_file (parts_dir, i, info->part_compressed[i], error))
			return FALSE;
		if (symlink (target, link) < 0) {
			int saved = errno;

			g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot link %s: %s", link,
				     g_strerror (saved));
			return FALSE;
		}
	}
	return TRUE;
}

static void
remove_apply_dir (const gchar *dir, guint n_parts)
{
	g_autofree gchar *sb = g_build_filename (dir, "superblock", NULL);

	for (guint i = 0; i < n_parts; i++) {
		g_autofree gchar *name = g_strdup_printf ("%u", i);
		g_autofree gchar *link = g_build_filename (dir, name, NULL);

		(void) g_unlink (link);
	}
	(void) g_unlink (sb);
	if (g_rmdir (dir) < 0)
		g_warning ("apply: cannot remove %s: %s", dir, g_strerror (errno));
}

/* The private directory libostree applies from: the verified superblock, and links to
 * the part files where they are. Returns its path; leaves nothing behind on failure. */
static gchar *
make_apply_dir (GBytes *superblock, const MuDeltaInfo *info, const gchar *parts_dir,
		const gchar *work_dir, GError **error)
{
	g_autofree gchar *dir = g_build_filename (work_dir, "apply-XXXXXX", NULL);

	if (g_mkdtemp_full (dir, 0700) == NULL) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot create %s: %s", dir,
			     g_strerror (saved));
		return NULL;
	}
	if (!fill_apply_dir (dir, superblock, info, parts_dir, error)) {
		remove_apply_dir (dir, info->n_parts);
		return NULL;
	}
	return g_steal_pointer (&dir);
}

/* Every object the commit reaches is in the repository. */
static gboolean
check_commit_complete (OstreeRepo *repo, const gchar *commit, GCancellable *cancellable,
		       GError **error)
{
	OstreeRepoCommitState state = 0;
	g_autoptr (GHashTable) reachable = NULL;
	GHashTableIter iter;
	gpointer key;

	if (!ostree_repo_load_commit (repo, commit, NULL, &state, error))
		return FALSE;
	if (state & OSTREE_REPO_COMMIT_STATE_PARTIAL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "commit %s is incomplete after applying the delta", commit);
		return FALSE;
	}
	if (!ostree_repo_traverse_commit (repo, commit, 0, &reachable, cancellable, error))
		return FALSE;
	g_hash_table_iter_init (&iter, reachable);
	while (g_hash_table_iter_next (&iter, &key, NULL)) {
		const gchar *csum;
		OstreeObjectType type;
		gboolean have = FALSE;

		ostree_object_name_deserialize (key, &csum, &type);
		if (!ostree_repo_has_object (repo, type, csum, &have, cancellable, error))
			return FALSE;
		if (!have) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
				     "commit %s lacks object %s.%s after applying the delta",
				     commit, csum, ostree_object_type_to_string (type));
			return FALSE;
		}
	}
	return TRUE;
}

/* libostree's errors mapped to the refusal or failure they mean here. */
static void
classify_apply_error (GError **error)
{
	MuErrorCode code = MU_ERROR_CORRUPT_DELTA;
	GError *mapped;

	if (error == NULL || *error == NULL || (*error)->domain == MU_ERROR)
		return;
	if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
		code = MU_ERROR_NO_SPACE;
	else if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		code = MU_ERROR_CANCELLED;
	if (code == MU_ERROR_CORRUPT_DELTA)
		mapped = g_error_new (MU_ERROR, code,
				      "the delta's content does not match its signed superblock "
				      "(%s); copy the bundle to the medium again",
				      (*error)->message);
	else
		mapped = g_error_new (MU_ERROR, code, "%s", (*error)->message);
	g_clear_error (error);
	*error = mapped;
}

static gboolean
execute_in_transaction (OstreeRepo *repo, const gchar *apply_dir, GCancellable *cancellable,
			GError **error)
{
	g_autofree gchar *sb_path = g_build_filename (apply_dir, "superblock", NULL);
	g_autoptr (GFile) sb = g_file_new_for_path (sb_path);

	if (!ostree_repo_prepare_transaction (repo, NULL, cancellable, error))
		return FALSE;
	if (!ostree_repo_static_delta_execute_offline (repo, sb, FALSE, cancellable, error) ||
	    !ostree_repo_commit_transaction (repo, NULL, cancellable, error)) {
		(void) ostree_repo_abort_transaction (repo, NULL, NULL);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_ostree_apply_delta (MuOstreeTarget *target, GBytes *superblock, const MuDeltaInfo *info,
		       const gchar *parts_dir, const gchar *work_dir, MuProgress *progress,
		       GCancellable *cancellable, GError **error)
{
	g_autofree gchar *apply_dir = NULL;
	PartWatch *watch;
	gboolean ok;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	apply_dir = make_apply_dir (superblock, info, parts_dir, work_dir, error);
	if (apply_dir == NULL)
		return FALSE;
	watch = part_watch_start (parts_dir, info, progress);
	ok = execute_in_transaction (target->repo, apply_dir, cancellable, error);
	part_watch_stop (watch, ok);
	remove_apply_dir (apply_dir, info->n_parts);
	if (!ok) {
		classify_apply_error (error);
		return FALSE;
	}
	return check_commit_complete (target->repo, info->to_commit, cancellable, error);
}
