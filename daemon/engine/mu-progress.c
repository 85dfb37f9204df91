/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-progress.h"

/* Relative cost of each phase, from measurements of a typical delta bundle: applying
 * dominates, deploying (checkout + bootloader config) comes second. Sums to 100. */
static const guint phase_weights[MU_PHASE_LAST] = {
	[MU_PHASE_IDLE] = 0,    [MU_PHASE_DISCOVER] = 2, [MU_PHASE_UNLOCK] = 8,
	[MU_PHASE_VERIFY] = 3,  [MU_PHASE_CHECK] = 2,    [MU_PHASE_APPLY] = 65,
	[MU_PHASE_DEPLOY] = 18, [MU_PHASE_FINISH] = 2,
};

static const gchar *const phase_names[MU_PHASE_LAST] = {
	[MU_PHASE_IDLE] = "idle",     [MU_PHASE_DISCOVER] = "discover",
	[MU_PHASE_UNLOCK] = "unlock", [MU_PHASE_VERIFY] = "verify",
	[MU_PHASE_CHECK] = "check",   [MU_PHASE_APPLY] = "apply",
	[MU_PHASE_DEPLOY] = "deploy", [MU_PHASE_FINISH] = "finish",
};

struct _MuProgress {
	GMutex lock;
	MuProgressState state;
	guint seen; /* a bit per phase entered since discover */
	MuProgressFunc func;
	gpointer user_data;
};

const gchar *
mu_phase_to_string (MuPhase phase)
{
	if ((guint) phase >= MU_PHASE_LAST)
		return "unknown";
	return phase_names[phase];
}

MuProgress *
mu_progress_new (MuProgressFunc func, gpointer user_data)
{
	MuProgress *progress = g_new0 (MuProgress, 1);

	g_mutex_init (&progress->lock);
	progress->func = func;
	progress->user_data = user_data;
	return progress;
}

void
mu_progress_free (MuProgress *progress)
{
	if (progress == NULL)
		return;
	g_mutex_clear (&progress->lock);
	g_free (progress);
}

/*
 * The share of the install done when @phase starts: the phases entered before it, and
 * those before the first one entered (an install reported from midway). A v2 bundle
 * verifies and checks its signed header before it unlocks and comes back to verify for
 * the delta: a phase entered a second time counts as done, so the percentage never goes
 * back.
 */
static guint
weight_done (MuPhase phase, guint seen, gboolean *out_again)
{
	guint first = MU_PHASE_LAST;
	guint sum = 0;

	*out_again = (seen & (1u << phase)) != 0;
	for (guint i = MU_PHASE_LAST; i-- > 0;) {
		if ((seen & (1u << i)) != 0 || i == (guint) phase)
			first = i;
	}
	for (guint i = 0; i < MU_PHASE_LAST; i++) {
		gboolean entered = (seen & (1u << i)) != 0 && (i != (guint) phase || *out_again);

		if (entered || i < first)
			sum += phase_weights[i];
	}
	return sum;
}

/* Percentage of the whole install; never goes backwards within an install. */
static guint
compute_percentage (const MuProgressState *s, guint seen)
{
	gboolean again = FALSE;
	guint base = (guint) s->phase < MU_PHASE_LAST ? weight_done (s->phase, seen, &again) : 0;
	guint w = (guint) s->phase < MU_PHASE_LAST && !again ? phase_weights[s->phase] : 0;
	gdouble fraction = 0.0;

	if (s->bytes_total > 0)
		fraction = (gdouble) MIN (s->bytes_done, s->bytes_total) / (gdouble) s->bytes_total;
	else if (s->items_total > 0)
		fraction = (gdouble) MIN (s->items_done, s->items_total) / (gdouble) s->items_total;
	return MIN (100, base + (guint) (w * fraction));
}

/* Updates under the lock, then reports outside it if anything a reader sees changed. */
static void
update (MuProgress *progress, const MuProgressState *next, gboolean entering)
{
	MuProgressState copy;
	gboolean changed;
	guint seen;

	g_mutex_lock (&progress->lock);
	/* A new install starts at discover; phases it entered before this one. */
	if (entering && next->phase <= MU_PHASE_DISCOVER)
		progress->seen = 0;
	seen = entering ? progress->seen : progress->seen & ~(1u << next->phase);
	copy = *next;
	copy.percentage = MAX (compute_percentage (next, seen), next->phase == progress->state.phase
									? progress->state.percentage
									: 0);
	if ((guint) next->phase < MU_PHASE_LAST)
		progress->seen |= 1u << next->phase;
	changed = memcmp (&copy, &progress->state, sizeof (copy)) != 0;
	progress->state = copy;
	g_mutex_unlock (&progress->lock);

	if (changed && progress->func != NULL)
		progress->func (&copy, progress->user_data);
}

void
mu_progress_begin_phase (MuProgress *progress, MuPhase phase)
{
	MuProgressState next = { .phase = phase };

	g_return_if_fail (progress != NULL);
	g_return_if_fail ((guint) phase < MU_PHASE_LAST);
	update (progress, &next, TRUE);
}

void
mu_progress_set_bytes (MuProgress *progress, guint64 done, guint64 total)
{
	MuProgressState next = mu_progress_get_state (progress);

	next.bytes_done = done;
	next.bytes_total = total;
	update (progress, &next, FALSE);
}

void
mu_progress_set_items (MuProgress *progress, guint done, guint total)
{
	MuProgressState next = mu_progress_get_state (progress);

	next.items_done = done;
	next.items_total = total;
	update (progress, &next, FALSE);
}

void
mu_progress_done (MuProgress *progress)
{
	MuProgressState next = { .phase = MU_PHASE_FINISH, .percentage = 100 };

	g_mutex_lock (&progress->lock);
	progress->state = next;
	g_mutex_unlock (&progress->lock);
	if (progress->func != NULL)
		progress->func (&next, progress->user_data);
}

MuProgressState
mu_progress_get_state (MuProgress *progress)
{
	MuProgressState s;

	g_mutex_lock (&progress->lock);
	s = progress->state;
	g_mutex_unlock (&progress->lock);
	return s;
}
