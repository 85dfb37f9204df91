/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's side of a worker process: each install, check or inspection runs in a
 * process of its own (`mediaupd --worker ...`, mu-worker-main.h), so that a crash, an OOM
 * kill or a SIGBUS in the engine or libostree leaves the daemon up. Progress and the result
 * come back over a socket and are parsed strictly (mu-worker-proto.h). A worker that ends
 * without a valid result is MU_ERROR_WORKER_FAILED, naming the signal or exit status.
 */

#include <gio/gio.h>

#include "mu-progress.h"

G_BEGIN_DECLS

typedef enum {
	MU_WORKER_INSTALL,
	MU_WORKER_CHECK,
	MU_WORKER_INSPECT,
} MuWorkerMode;

typedef struct _MuWorker MuWorker;

typedef void (*MuWorkerProgressFunc) (MuWorker *worker, const MuProgressState *state,
				      gpointer user_data);
/*
 * Called once, on the main context, after the process has ended. @error is NULL on
 * success; @details (a{sv}, never NULL) what the worker reported. @clean is FALSE when the
 * process did not end normally (killed, crashed, malformed messages): then something may
 * be left to clean up (mu_engine_cleanup_stale()).
 */
typedef void (*MuWorkerDoneFunc) (MuWorker *worker, const GError *error, GVariant *details,
				  gboolean clean, gpointer user_data);

typedef struct {
	MuWorkerMode mode;
	const gchar *config_path; /* NULL: the default */
	const gchar *path;        /* the bundle file on a mounted medium, or NULL */
	int fd;                   /* or the open bundle file (duplicated), else -1 */
	const gchar *name;        /* names the bundle given by @fd in messages */
	MuWorkerProgressFunc progress;
	MuWorkerDoneFunc done;
	gpointer user_data;
} MuWorkerOptions;

/* Starts the worker; its end is reported to @options->done, unless freed before. */
G_GNUC_WARN_UNUSED_RESULT
MuWorker *mu_worker_start (const MuWorkerOptions *options, GError **error);

/* Asks the worker to stop at its next safe point (SIGTERM). */
void mu_worker_cancel (MuWorker *worker);
/* The worker's process id, while it runs (0 after). */
GPid mu_worker_get_pid (MuWorker *worker);
/* Kills a worker still running (SIGKILL) and frees; @done is not called any more. */
void mu_worker_free (MuWorker *worker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuWorker, mu_worker_free)

/* "was killed by signal 9 (Killed)", "exited with status 3": for messages. */
gchar *mu_worker_describe_exit (gint wait_status) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
