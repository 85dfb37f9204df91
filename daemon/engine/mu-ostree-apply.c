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
#include "mu-safe-open.h"

/* Private apply directories in the repository's tmp directory are named so. */
#define APPLY_DIR_PREFIX "mediaupd-apply-"
/* Parts are copied in chunks of this size. */
#define COPY_CHUNK (256 * 1024)

/*
 * Progress of libostree's offline apply, which has no callback of its own: watch the
 * private directory holding the checked part copies and count a part as done when the
 * next one is opened (libostree executes parts in order). Its bytes follow those of the
 * check-and-copy pass: both passes together are twice the delta's size.
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
	guint64 bytes = w->info->total_compressed;

	for (guint i = 0; i < done && i < w->info->n_parts; i++)
		bytes += w->info->part_compressed[i];
	mu_progress_set_items (w->progress, done, w->info->n_parts);
	mu_progress_set_bytes (w->progress, bytes, 2 * w->info->total_compressed);
}

static void
handle_events (PartWatch *w, const gchar *buf, gssize len, guint *done)
{
	for (const gchar *p = buf; p < buf + len;) {
		/* The buffer is aligned for inotify_event and the kernel pads each record's
		 * name so that the next record is aligned too. */
		const struct inotify_event *ev = (const struct inotify_event *) (const void *) p;
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
	gchar buf[4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));

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

/* A private apply directory holds only the files written here: no recursion needed. */
static gboolean
remove_apply_dir (const gchar *dir, GError **error)
{
	g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
		g_autofree gchar *path = g_build_filename (dir, name, NULL);

		(void) g_unlink (path);
	}
	if (g_rmdir (dir) < 0 && errno != ENOENT) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot remove %s: %s", dir,
			     g_strerror (saved));
		return FALSE;
	}
	return TRUE;
}

static gchar *
repo_tmp_dir (OstreeRepo *repo)
{
	GFile *path = ostree_repo_get_path (repo);
	g_autofree gchar *repo_path = g_file_get_path (path);

	return g_build_filename (repo_path, "tmp", NULL);
}

static gboolean
remove_stale_in (const gchar *tmp_dir, GError **error)
{
	g_autoptr (GDir) d = g_dir_open (tmp_dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
		g_autofree gchar *path = NULL;

		if (!g_str_has_prefix (name, APPLY_DIR_PREFIX))
			continue;
		path = g_build_filename (tmp_dir, name, NULL);
		g_info ("apply: removing %s, left by an install that was stopped", path);
		if (!remove_apply_dir (path, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
mu_ostree_apply_remove_stale (const gchar *sysroot_path, GError **error)
{
	g_autofree gchar *tmp_dir = g_build_filename (sysroot_path, "ostree", "repo", "tmp", NULL);

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
	return remove_stale_in (tmp_dir, error);
}

static void
set_write_error (const gchar *what, int err, GError **error)
{
	mu_error_set_errno (error, err, "cannot write %s", what);
}

static gboolean
write_all (int fd, const guint8 *data, gsize len, const gchar *what, GError **error)
{
	while (len > 0) {
		ssize_t n = write (fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_write_error (what, errno, error);
			return FALSE;
		}
		data += n;
		len -= (gsize) n;
	}
	return TRUE;
}

/* Bytes copied so far over the whole delta, for progress. */
typedef struct {
	MuProgress *progress;
	guint64 done;
	guint64 total;
} CopyProgress;

/*
 * Copies part @i from the bundle to the private directory, hashing what it reads: never
 * more than the signed size + 1 bytes, and the copy must be exactly the part the
 * superblock pins. Returns FALSE with the copy possibly partly written (the caller
 * removes the directory).
 */
static gboolean
copy_part (int delta_fd, int apply_fd, const MuDeltaInfo *info, guint i, guint8 *buf,
	   CopyProgress *cp, GCancellable *cancellable, GError **error)
{
	g_autofree gchar *name = g_strdup_printf ("%u", i);
	g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
	guint64 expected = info->part_compressed[i];
	guint64 done = 0;
	struct stat st;
	int in, out;
	gboolean ok = TRUE;

	in = mu_safe_open_file (delta_fd, name, &st, error);
	if (in < 0) {
		g_prefix_error (error, "delta part %u: ", i);
		return FALSE;
	}
	if ((guint64) st.st_size != expected) {
		close (in);
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "delta part %u is %" G_GINT64_FORMAT " bytes, its signed superblock "
			     "says %" G_GUINT64_FORMAT "; copy the bundle to the medium again",
			     i, (gint64) st.st_size, expected);
		return FALSE;
	}
	out = openat (apply_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		set_write_error (name, errno, error);
		close (in);
		return FALSE;
	}
	while (ok) {
		gsize want = (gsize) MIN ((guint64) COPY_CHUNK, expected + 1 - done);
		ssize_t n = read (in, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot read delta part %u: %s",
				     i, g_strerror (saved));
			ok = FALSE;
			break;
		}
		if (n == 0)
			break;
		done += (guint64) n;
		if (done > expected) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
				     "delta part %u is longer than the %" G_GUINT64_FORMAT
				     " bytes its signed superblock says",
				     i, expected);
			ok = FALSE;
			break;
		}
		g_checksum_update (sum, buf, n);
		ok = write_all (out, buf, (gsize) n, name, error) &&
		     !g_cancellable_set_error_if_cancelled (cancellable, error);
		cp->done += (guint64) n;
		if (cp->progress != NULL)
			mu_progress_set_bytes (cp->progress, cp->done, cp->total);
	}
	close (in);
	if (close (out) < 0 && ok) {
		set_write_error (name, errno, error);
		ok = FALSE;
	}
	if (!ok)
		return FALSE;
	if (done != expected) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "delta part %u is shorter (%" G_GUINT64_FORMAT
			     " bytes) than the %" G_GUINT64_FORMAT
			     " its signed superblock says; copy the bundle to "
			     "the medium again",
			     i, done, expected);
		return FALSE;
	}
	if (g_strcmp0 (g_checksum_get_string (sum), info->part_checksums[i]) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA,
			     "delta part %u does not match its signed superblock (SHA-256 %s, "
			     "signed %s); copy the bundle to the medium again",
			     i, g_checksum_get_string (sum), info->part_checksums[i]);
		return FALSE;
	}
	return TRUE;
}

/* The private directory libostree applies from: the verified superblock, and checked
 * copies of the part files. */
static gboolean
fill_apply_dir (const gchar *dir, GBytes *superblock, const MuDeltaInfo *info, int delta_fd,
		MuProgress *progress, GCancellable *cancellable, GError **error)
{
	g_autofree gchar *sb_path = g_build_filename (dir, "superblock", NULL);
	g_autofree guint8 *buf = g_malloc (COPY_CHUNK);
	CopyProgress cp = { .progress = progress, .total = 2 * info->total_compressed };
	gsize len = 0;
	const guint8 *data = g_bytes_get_data (superblock, &len);
	gboolean ok = TRUE;
	int apply_fd;

	if (!g_file_set_contents_full (sb_path, (const gchar *) data, (gssize) len,
				       G_FILE_SET_CONTENTS_NONE, 0600, error))
		return FALSE;
	apply_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (apply_fd < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot open %s: %s", dir,
			     g_strerror (saved));
		return FALSE;
	}
	if (progress != NULL)
		mu_progress_set_bytes (progress, 0, cp.total);
	for (guint i = 0; ok && i < info->n_parts; i++)
		ok = copy_part (delta_fd, apply_fd, info, i, buf, &cp, cancellable, error);
	close (apply_fd);
	return ok;
}

/* A new private directory under the repository's tmp directory: same filesystem as the
 * objects, and parts may be hundreds of MB, too much for /run. */
static gchar *
make_apply_dir (const gchar *tmp_dir, GError **error)
{
	g_autofree gchar *dir = g_build_filename (tmp_dir, APPLY_DIR_PREFIX "XXXXXX", NULL);

	if (g_mkdtemp_full (dir, 0700) == NULL) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot create %s: %s", dir,
			     g_strerror (saved));
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
	MuErrorCode code;
	GError *mapped;

	if (error == NULL || *error == NULL || (*error)->domain == MU_ERROR)
		return;
	/* A file the delta names that is not there is a damaged delta too; only a full disk
	 * and a cancel are not about the delta. */
	if (!mu_error_code_from_gerror (*error, &code) ||
	    (code != MU_ERROR_NO_SPACE && code != MU_ERROR_CANCELLED))
		code = MU_ERROR_CORRUPT_DELTA;
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

static gboolean
apply_from_dir (MuOstreeTarget *target, const gchar *apply_dir, GBytes *superblock,
		const MuDeltaInfo *info, int delta_fd, MuProgress *progress,
		GCancellable *cancellable, GError **error)
{
	PartWatch *watch;
	gboolean ok;

	if (!fill_apply_dir (apply_dir, superblock, info, delta_fd, progress, cancellable, error))
		return FALSE;
	watch = part_watch_start (apply_dir, info, progress);
	ok = execute_in_transaction (target->repo, apply_dir, cancellable, error);
	part_watch_stop (watch, ok);
	if (!ok)
		classify_apply_error (error);
	return ok;
}

gboolean
mu_ostree_apply_delta (MuOstreeTarget *target, GBytes *superblock, const MuDeltaInfo *info,
		       int delta_fd, MuProgress *progress, GCancellable *cancellable,
		       GError **error)
{
	g_autofree gchar *tmp_dir = repo_tmp_dir (target->repo);
	g_autofree gchar *apply_dir = NULL;
	g_autoptr (GError) local_error = NULL;
	gboolean ok;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	/* The sysroot lock held by @target keeps other installs out. */
	if (!remove_stale_in (tmp_dir, error))
		return FALSE;
	apply_dir = make_apply_dir (tmp_dir, error);
	if (apply_dir == NULL)
		return FALSE;
	ok = apply_from_dir (target, apply_dir, superblock, info, delta_fd, progress, cancellable,
			     error);
	if (!remove_apply_dir (apply_dir, &local_error))
		g_warning ("apply: %s", local_error->message);
	if (!ok)
		return FALSE;
	return check_commit_complete (target->repo, info->to_commit, cancellable, error);
}
