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

/* Format v2: verify and check come before unlock, then verify again for the delta. The
 * percentage never goes back, and apply starts where it does for v1. */
static void
test_progress_v2_order (void)
{
	static const MuPhase v1[] = { MU_PHASE_DISCOVER, MU_PHASE_UNLOCK, MU_PHASE_VERIFY,
				      MU_PHASE_CHECK, MU_PHASE_APPLY };
	static const MuPhase v2[] = { MU_PHASE_DISCOVER, MU_PHASE_VERIFY, MU_PHASE_CHECK,
				      MU_PHASE_UNLOCK,   MU_PHASE_VERIFY, MU_PHASE_APPLY };
	g_autoptr (MuProgress) p = mu_progress_new (NULL, NULL);
	guint at_apply_v1 = 0;
	guint last = 0;
	guint at_unlock = 0;

	for (guint i = 0; i < G_N_ELEMENTS (v1); i++)
		mu_progress_begin_phase (p, v1[i]);
	at_apply_v1 = mu_progress_get_state (p).percentage;
	mu_progress_done (p);

	/* The same object for the next install: discover starts it afresh. */
	for (guint i = 0; i < G_N_ELEMENTS (v2); i++) {
		MuProgressState s;

		mu_progress_begin_phase (p, v2[i]);
		s = mu_progress_get_state (p);
		g_assert_cmpint (s.phase, ==, v2[i]);
		if (i > 0)
			g_assert_cmpuint (s.percentage, >=, last);
		else
			g_assert_cmpuint (s.percentage, ==, 0);
		if (v2[i] == MU_PHASE_UNLOCK)
			at_unlock = s.percentage;
		last = s.percentage;
	}
	/* Unlock starts after discover, verify and check, not back at discover's end. */
	g_assert_cmpuint (at_unlock, >, 2);
	g_assert_cmpuint (last, ==, at_apply_v1);
	mu_progress_set_bytes (p, 50, 100);
	g_assert_cmpuint (mu_progress_get_state (p).percentage, >, at_apply_v1);
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
	g_test_add_func ("/progress/v2-order", test_progress_v2_order);
	g_test_add_func ("/progress/names", test_progress_names);
	return g_test_run ();
}
