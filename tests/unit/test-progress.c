/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib.h>

#include "mu-progress.h"

typedef struct {
	GArray *seen; /* MuProgressState */
} Recorder;

static void
record (const MuProgressState *state, gpointer user_data)
{
	Recorder *r = user_data;

	g_array_append_val (r->seen, *state);
}

static void
test_progress_monotonic (void)
{
	Recorder r = { g_array_new (FALSE, FALSE, sizeof (MuProgressState)) };
	g_autoptr (MuProgress) p = mu_progress_new (record, &r);
	guint last = 0;

	for (MuPhase ph = MU_PHASE_DISCOVER; ph < MU_PHASE_APPLY; ph++)
		mu_progress_begin_phase (p, ph);
	mu_progress_begin_phase (p, MU_PHASE_APPLY);
	for (guint part = 0; part <= 4; part++) {
		mu_progress_set_items (p, part, 4);
		mu_progress_set_bytes (p, part * 1000, 4000);
	}
	mu_progress_begin_phase (p, MU_PHASE_DEPLOY);
	mu_progress_begin_phase (p, MU_PHASE_FINISH);
	mu_progress_done (p);

	g_assert_cmpuint (r.seen->len, >, 8);
	for (guint i = 0; i < r.seen->len; i++) {
		MuProgressState *s = &g_array_index (r.seen, MuProgressState, i);

		g_assert_cmpuint (s->percentage, >=, last);
		g_assert_cmpuint (s->percentage, <=, 100);
		last = s->percentage;
	}
	g_assert_cmpuint (last, ==, 100);
	g_array_unref (r.seen);
}

static void
test_progress_apply_bytes (void)
{
	g_autoptr (MuProgress) p = mu_progress_new (NULL, NULL);
	MuProgressState start, half, full;

	mu_progress_begin_phase (p, MU_PHASE_APPLY);
	start = mu_progress_get_state (p);
	mu_progress_set_items (p, 1, 2);
	mu_progress_set_bytes (p, 500, 1000);
	half = mu_progress_get_state (p);
	mu_progress_set_bytes (p, 1000, 1000);
	full = mu_progress_get_state (p);

	g_assert_cmpint (start.phase, ==, MU_PHASE_APPLY);
	g_assert_cmpuint (start.bytes_done, ==, 0);
	g_assert_cmpuint (half.bytes_done, ==, 500);
	g_assert_cmpuint (half.items_done, ==, 1);
	g_assert_cmpuint (half.items_total, ==, 2);
	/* Apply is the heaviest phase: half of it moves the total by a large step. */
	g_assert_cmpuint (half.percentage - start.percentage, >=, 25);
	g_assert_cmpuint (full.percentage, >, half.percentage);
	/* Apply done, deploy and finish still to come. */
	g_assert_cmpuint (full.percentage, <, 100);

	/* A new phase resets the per-phase counters. */
	mu_progress_begin_phase (p, MU_PHASE_DEPLOY);
	g_assert_cmpuint (mu_progress_get_state (p).bytes_total, ==, 0);
	g_assert_cmpuint (mu_progress_get_state (p).percentage, ==, full.percentage);
}

static void
test_progress_names (void)
{
	g_assert_cmpstr (mu_phase_to_string (MU_PHASE_UNLOCK), ==, "unlock");
	g_assert_cmpstr (mu_phase_to_string (MU_PHASE_FINISH), ==, "finish");
	g_assert_cmpstr (mu_phase_to_string (MU_PHASE_LAST), ==, "unknown");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/progress/monotonic", test_progress_monotonic);
	g_test_add_func ("/progress/apply-bytes", test_progress_apply_bytes);
	g_test_add_func ("/progress/names", test_progress_names);
	return g_test_run ();
}
