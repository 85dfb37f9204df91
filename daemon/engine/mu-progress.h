/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The named phases of an install, in order. */
typedef enum {
	MU_PHASE_IDLE,
	MU_PHASE_DISCOVER,
	MU_PHASE_UNLOCK,
	MU_PHASE_VERIFY,
	MU_PHASE_CHECK,
	MU_PHASE_APPLY,
	MU_PHASE_DEPLOY,
	MU_PHASE_FINISH,
	MU_PHASE_LAST
} MuPhase;

const gchar *mu_phase_to_string (MuPhase phase);

/* A snapshot of where an install is; safe to hand to another thread. */
typedef struct {
	MuPhase phase;
	guint percentage;   /* 0..100 over the whole install, weighted by phase */
	guint64 bytes_done; /* within the phase, where it counts bytes */
	guint64 bytes_total;
	guint items_done; /* e.g. delta parts */
	guint items_total;
} MuProgressState;

typedef struct _MuProgress MuProgress;

/* Called on the thread that reports, each time the state changes visibly. */
typedef void (*MuProgressFunc) (const MuProgressState *state, gpointer user_data);

MuProgress *mu_progress_new (MuProgressFunc func, gpointer user_data);
void mu_progress_free (MuProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuProgress, mu_progress_free)

/* Enters @phase: earlier phases count as done, the new one starts at zero. */
void mu_progress_begin_phase (MuProgress *progress, MuPhase phase);
/* Work done inside the current phase; the percentage follows bytes when known, else items. */
void mu_progress_set_bytes (MuProgress *progress, guint64 done, guint64 total);
void mu_progress_set_items (MuProgress *progress, guint done, guint total);
/* The install completed: 100 %. */
void mu_progress_done (MuProgress *progress);

MuProgressState mu_progress_get_state (MuProgress *progress);

G_END_DECLS
