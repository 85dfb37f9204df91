/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mu-bundle.h"
#include "mu-error.h"

/* Longest NO_KEY message: a device may hold many keys, a bundle 32 slots. */
#define MU_NO_KEY_MESSAGE_MAX 1024

void
mu_key_trial_free (MuKeyTrial *trial)
{
	if (trial == NULL)
		return;
	g_free (trial->key_id);
	g_free (trial);
}

const gchar *
mu_key_trial_result_to_string (gint result)
{
	if (result >= 0)
		return "opened";
	switch (-result) {
	case EPERM:
		return "wrong key";
	case ENOENT:
		return "no such keyslot";
	case ENOMEM:
		return "not enough memory for the keyslot's PBKDF";
	case EINVAL:
		return "keyslot unusable";
	case E2BIG:
		return "PBKDF over this device's limits, not tried";
	default:
		return g_strerror (-result);
	}
}

/* One key id's share of the trials, for mu_key_trials_summarize(). */
typedef struct {
	const gchar *key_id;
	GString *hinted;    /* "its slot 0: wrong key" clauses */
	GArray *other_results; /* gint results of unhinted attempts, in order */
} KeySummary;

static void
key_summary_clear (KeySummary *ks)
{
	g_string_free (ks->hinted, TRUE);
	g_array_unref (ks->other_results);
}

static KeySummary *
summary_for (GArray *summaries, const gchar *key_id)
{
	KeySummary fresh = { 0 };

	for (guint i = 0; i < summaries->len; i++) {
		KeySummary *ks = &g_array_index (summaries, KeySummary, i);

		if (g_strcmp0 (ks->key_id, key_id) == 0)
			return ks;
	}
	fresh.key_id = key_id;
	fresh.hinted = g_string_new (NULL);
	fresh.other_results = g_array_new (FALSE, FALSE, sizeof (gint));
	g_array_append_val (summaries, fresh);
	return &g_array_index (summaries, KeySummary, summaries->len - 1);
}

/* "2 other slots: wrong key, 1 other slot: no such keyslot" (distinct results, in order). */
static void
append_other_results (GString *out, GArray *results, gboolean any_hinted)
{
	g_autoptr (GArray) seen = g_array_new (FALSE, FALSE, sizeof (gint));

	for (guint i = 0; i < results->len; i++) {
		gint r = g_array_index (results, gint, i);
		guint count = 0;
		gboolean done = FALSE;

		for (guint j = 0; j < seen->len; j++)
			done = done || g_array_index (seen, gint, j) == r;
		if (done)
			continue;
		g_array_append_val (seen, r);
		for (guint j = i; j < results->len; j++)
			count += g_array_index (results, gint, j) == r ? 1 : 0;
		if (out->len > 0)
			g_string_append (out, "; ");
		g_string_append_printf (out, "%u %sslot%s: %s", count, any_hinted ? "other " : "",
					count == 1 ? "" : "s", mu_key_trial_result_to_string (r));
	}
}

gchar *
mu_key_trials_summarize (GPtrArray *trials, gsize max_len)
{
	g_autoptr (GArray) summaries = g_array_new (FALSE, FALSE, sizeof (KeySummary));
	g_autoptr (GString) out = g_string_new (NULL);
	guint shown = 0;

	g_return_val_if_fail (trials != NULL, NULL);

	g_array_set_clear_func (summaries, (GDestroyNotify) key_summary_clear);
	for (guint i = 0; i < trials->len; i++) {
		const MuKeyTrial *trial = g_ptr_array_index (trials, i);
		KeySummary *ks = summary_for (summaries, trial->key_id);

		if (trial->hinted) {
			g_string_append_printf (ks->hinted, "%sits slot %d: %s",
						ks->hinted->len > 0 ? "; " : "", trial->slot,
						mu_key_trial_result_to_string (trial->result));
		} else {
			g_array_append_val (ks->other_results, trial->result);
		}
	}
	for (guint i = 0; i < summaries->len; i++) {
		KeySummary *ks = &g_array_index (summaries, KeySummary, i);
		g_autoptr (GString) reasons = g_string_new (ks->hinted->str);
		g_autofree gchar *clause = NULL;

		append_other_results (reasons, ks->other_results, ks->hinted->len > 0);
		clause = g_strdup_printf ("%s'%s' (%s)", i > 0 ? ", " : "", ks->key_id, reasons->str);
		if (max_len > 0 && out->len + strlen (clause) > max_len) {
			g_string_append_printf (out, "%s... and %u more key%s", shown > 0 ? ", " : "",
						summaries->len - shown,
						summaries->len - shown == 1 ? "" : "s");
			break;
		}
		g_string_append (out, clause);
		shown++;
	}
	return g_string_free (g_steal_pointer (&out), FALSE);
}

/* The state of one mu_bundle_try_keys() call. */
typedef struct {
	MuBundle *bundle;
	const MuBundleInfo *info;
	GPtrArray *keys;
	GPtrArray *trials;       /* caller's, may be NULL */
	GPtrArray *own_trials;   /* every attempt, for the error message */
	gboolean *tried;         /* [key index * n_slots + keyslot index] */
	gint opened_slot;
	const MuKey *opened_key;
} Trial;

static MuKeyTrial *
trial_record (const MuKey *key, gint slot, gboolean hinted, gint result, gint64 duration_us)
{
	MuKeyTrial *trial = g_new0 (MuKeyTrial, 1);

	trial->key_id = g_strdup (key->id);
	trial->slot = slot;
	trial->hinted = hinted;
	trial->result = result;
	trial->duration_us = duration_us;
	return trial;
}

static void
record (Trial *t, const MuKey *key, gint slot, gboolean hinted, gint result, gint64 duration_us)
{
	if (t->trials != NULL)
		g_ptr_array_add (t->trials, trial_record (key, slot, hinted, result, duration_us));
	g_ptr_array_add (t->own_trials, trial_record (key, slot, hinted, result, duration_us));
}

/* Check-only: name NULL activates nothing, so no device-mapper and no root. */
static gboolean
try_one (Trial *t, guint key_index, guint slot_index, gboolean hinted)
{
	const MuKey *key = g_ptr_array_index (t->keys, key_index);
	const MuBundleKeyslot *ks = g_ptr_array_index (t->info->keyslots, slot_index);
	gint64 start = g_get_monotonic_time ();
	gint64 duration;
	int r;

	t->tried[key_index * t->info->keyslots->len + slot_index] = TRUE;
	if (!mu_pbkdf_limits_allow (mu_bundle_get_pbkdf_limits (t->bundle), ks)) {
		g_message ("Bundle '%s': not trying keyslot %d: its PBKDF (%s, %u iterations, "
			   "%u KiB) is over this device's limits",
			   mu_bundle_get_path (t->bundle), ks->slot, ks->pbkdf_type,
			   ks->pbkdf_iterations, ks->pbkdf_memory_kib);
		record (t, key, ks->slot, hinted, -E2BIG, 0);
		return FALSE;
	}
	r = crypt_activate_by_passphrase (mu_bundle_get_crypt_device (t->bundle), NULL, ks->slot,
					  (const char *) key->data, key->len,
					  CRYPT_ACTIVATE_READONLY);
	duration = g_get_monotonic_time () - start;
	g_debug ("Bundle '%s': key '%s' against keyslot %d%s: %s (%.1f ms)",
		 mu_bundle_get_path (t->bundle), key->id, ks->slot, hinted ? " (hinted)" : "",
		 mu_key_trial_result_to_string (r), (gdouble) duration / 1000.0);
	record (t, key, ks->slot, hinted, r, duration);
	if (r < 0)
		return FALSE;
	t->opened_slot = r;
	t->opened_key = key;
	return TRUE;
}

static gboolean
check_cancelled (GCancellable *cancellable, GError **error)
{
	if (!g_cancellable_is_cancelled (cancellable))
		return FALSE;
	g_set_error_literal (error, MU_ERROR, MU_ERROR_CANCELLED,
			     "The key trial was cancelled");
	return TRUE;
}

/* Each key against the slot(s) whose token names it: one PBKDF per key. */
static gboolean
try_hinted (Trial *t, GCancellable *cancellable, GError **error)
{
	for (guint k = 0; k < t->keys->len; k++) {
		const MuKey *key = g_ptr_array_index (t->keys, k);

		for (guint s = 0; s < t->info->keyslots->len; s++) {
			const MuBundleKeyslot *ks = g_ptr_array_index (t->info->keyslots, s);

			if (ks->status != MU_BUNDLE_KEYSLOT_ACTIVE ||
			    g_strcmp0 (ks->key_id, key->id) != 0)
				continue;
			if (check_cancelled (cancellable, error))
				return FALSE;
			if (try_one (t, k, s, TRUE))
				return TRUE;
		}
	}
	return FALSE;
}

/* Every key against every slot not yet tried with it: slots without a token
 * first (bundles without hints), then slots whose token names another id. */
static gboolean
try_all (Trial *t, GCancellable *cancellable, GError **error)
{
	guint n_slots = t->info->keyslots->len;

	for (guint pass = 0; pass < 2; pass++) {
		for (guint k = 0; k < t->keys->len; k++) {
			for (guint s = 0; s < n_slots; s++) {
				const MuBundleKeyslot *ks = g_ptr_array_index (t->info->keyslots, s);
				gboolean unnamed = ks->key_id == NULL;

				if (ks->status != MU_BUNDLE_KEYSLOT_ACTIVE ||
				    t->tried[k * n_slots + s] || unnamed != (pass == 0))
					continue;
				if (check_cancelled (cancellable, error))
					return FALSE;
				if (try_one (t, k, s, FALSE))
					return TRUE;
			}
		}
	}
	return FALSE;
}

static void
set_no_key_error (Trial *t, GError **error)
{
	g_autofree gchar *summary = mu_key_trials_summarize (t->own_trials, MU_NO_KEY_MESSAGE_MAX);
	g_autoptr (GString) ids = g_string_new (NULL);

	for (guint s = 0; s < t->info->keyslots->len; s++) {
		const MuBundleKeyslot *ks = g_ptr_array_index (t->info->keyslots, s);

		if (ks->key_id != NULL && ids->len < MU_NO_KEY_MESSAGE_MAX)
			g_string_append_printf (ids, "%s'%s'", ids->len > 0 ? ", " : "",
						ks->key_id);
	}
	if (t->keys->len == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_NO_KEY,
			     "No keys to try on bundle '%s'; install the device's bundle keys",
			     mu_bundle_get_path (t->bundle));
		return;
	}
	g_set_error (error, MU_ERROR, MU_ERROR_NO_KEY,
		     "None of %u key%s opens a keyslot of bundle '%s': tried %s. The bundle was "
		     "made for other keys%s%s%s; get a bundle made for this device",
		     t->keys->len, t->keys->len == 1 ? "" : "s", mu_bundle_get_path (t->bundle),
		     summary, ids->len > 0 ? " (its keyslots name " : "", ids->str,
		     ids->len > 0 ? ")" : "");
}

gboolean
mu_bundle_try_keys (MuBundle *bundle, GPtrArray *keys, GPtrArray *trials,
		    GCancellable *cancellable, gint *out_slot, const MuKey **out_key,
		    GError **error)
{
	g_autoptr (GPtrArray) own_trials = NULL;
	g_autofree gboolean *tried = NULL;
	g_autoptr (GError) local_error = NULL;
	Trial t = { 0 };

	g_return_val_if_fail (bundle != NULL, FALSE);
	g_return_val_if_fail (keys != NULL, FALSE);
	g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	own_trials = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_trial_free);
	t.bundle = bundle;
	t.info = mu_bundle_get_info (bundle);
	t.keys = keys;
	t.trials = trials;
	t.own_trials = own_trials;
	tried = g_new0 (gboolean, MAX (keys->len * t.info->keyslots->len, 1));
	t.tried = tried;

	if (!try_hinted (&t, cancellable, &local_error) &&
	    (local_error != NULL || !try_all (&t, cancellable, &local_error))) {
		if (local_error != NULL) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return FALSE;
		}
		set_no_key_error (&t, error);
		return FALSE;
	}
	if (out_slot != NULL)
		*out_slot = t.opened_slot;
	if (out_key != NULL)
		*out_key = t.opened_key;
	return TRUE;
}
