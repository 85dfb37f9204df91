/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mu-bundle-private.h"
#include "mu-error.h"
#include "mu-secret.h"

/* How often a waiting caller looks at its cancellable. */
#define TRIAL_POLL_US (10 * 1000)

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
	case ETIMEDOUT:
		return "stopped, the trial time ran out";
	case ECANCELED:
		return "stopped, cancelled";
	case ESTALE:
		return "the header read differently a second time";
	default:
		return g_strerror (-result);
	}
}

/* One key id's share of the trials, for mu_key_trials_summarize(). */
typedef struct {
	const gchar *key_id;
	GString *hinted;       /* "its slot 0: wrong key" clauses */
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
		clause = g_strdup_printf ("%s'%s' (%s)", i > 0 ? ", " : "", ks->key_id,
					  reasons->str);
		if (max_len > 0 && out->len + strlen (clause) > max_len) {
			g_string_append_printf (out, "%s... and %u more key%s",
						shown > 0 ? ", " : "", summaries->len - shown,
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
	GPtrArray *trials;     /* caller's, may be NULL */
	GPtrArray *own_trials; /* every attempt, for the error message */
	gboolean *tried;       /* [key index * n_slots + keyslot index] */
	GCancellable *cancellable;
	gint64 deadline; /* monotonic time the trials must end by */
	gint opened_slot;
	const MuKey *opened_key;
	MuSecret *volume_key; /* from the trial that opened */
} Trial;

static MuKeyTrial *
trial_record (const MuKey *key, gint slot, gboolean hinted, gboolean tried, gint result,
	      gint64 duration_us)
{
	MuKeyTrial *trial = g_new0 (MuKeyTrial, 1);

	trial->key_id = g_strdup (key->id);
	trial->slot = slot;
	trial->hinted = hinted;
	trial->tried = tried;
	trial->result = result;
	trial->duration_us = duration_us;
	return trial;
}

static void
record (Trial *t, const MuKey *key, gint slot, gboolean hinted, gboolean tried, gint result,
	gint64 duration_us)
{
	if (t->trials != NULL)
		g_ptr_array_add (t->trials,
				 trial_record (key, slot, hinted, tried, result, duration_us));
	g_ptr_array_add (t->own_trials,
			 trial_record (key, slot, hinted, tried, result, duration_us));
}

/* What the device can give a PBKDF now: MemAvailable, else all of its RAM. */
static guint64
available_memory_kib (void)
{
	g_autofree gchar *meminfo = NULL;
	const gchar *line;
	guint64 kib = 0;

	if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL) &&
	    (line = strstr (meminfo, "MemAvailable:")) != NULL)
		kib = g_ascii_strtoull (line + strlen ("MemAvailable:"), NULL, 10);
	if (kib == 0)
		kib = (guint64) sysconf (_SC_PHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE) / 1024;
	return kib;
}

/*
 * One PBKDF, run on a thread of its own with its own crypt_device, so that the
 * caller can stop waiting at once (cancelled, out of time) while libcryptsetup,
 * which cannot be interrupted, finishes. The job holds copies of all it needs;
 * whoever drops the last reference wipes them.
 */
typedef struct {
	gatomicrefcount ref;
	GMutex lock;
	GCond cond;
	gboolean done;
	gchar *device;
	gchar *header_json;
	gint slot;
	MuSecret *key;
	MuSecret *volume_key;
	gint result;
} TrialJob;

static void
trial_job_unref (TrialJob *job)
{
	if (!g_atomic_ref_count_dec (&job->ref))
		return;
	g_mutex_clear (&job->lock);
	g_cond_clear (&job->cond);
	g_free (job->device);
	g_free (job->header_json);
	mu_secret_free (job->key);
	mu_secret_free (job->volume_key);
	g_free (job);
}

static gint
trial_job_open_slot (TrialJob *job, MuSecret **out_volume_key)
{
	g_autoptr (MuCryptDevice) cd = NULL;
	g_autoptr (MuSecret) volume_key = NULL;
	const char *json = NULL;
	size_t len;
	int r;

	r = crypt_init (&cd, job->device);
	if (r < 0)
		return r;
	mu_luks_set_device_logging (cd);
	r = crypt_load (cd, CRYPT_LUKS2, NULL);
	if (r < 0)
		return r;
	/* The stick may answer a second read differently: the checked header or none. */
	if (crypt_dump_json (cd, &json, 0) < 0 || g_strcmp0 (json, job->header_json) != 0)
		return -ESTALE;
	r = crypt_get_volume_key_size (cd);
	if (r <= 0 || r > MU_SECRET_MAX_LEN)
		return -EINVAL;
	len = (size_t) r;
	volume_key = mu_secret_new (len);
	r = crypt_volume_key_get (cd, job->slot, (char *) volume_key->data, &len,
				  (const char *) job->key->data, job->key->len);
	if (r < 0)
		return r;
	if (len != volume_key->len)
		return -EINVAL;
	*out_volume_key = g_steal_pointer (&volume_key);
	return r;
}

static gpointer
trial_job_run (gpointer data)
{
	TrialJob *job = data;
	MuSecret *volume_key = NULL;
	gint r = trial_job_open_slot (job, &volume_key);

	g_mutex_lock (&job->lock);
	job->result = r;
	job->volume_key = volume_key;
	job->done = TRUE;
	g_cond_broadcast (&job->cond);
	g_mutex_unlock (&job->lock);
	trial_job_unref (job);
	return NULL;
}

/* @key against keyslot @slot: the slot number, or -errno (-ECANCELED,
 * -ETIMEDOUT when the caller stopped waiting). */
static gint
run_trial (Trial *t, const MuKey *key, gint slot, MuSecret **out_volume_key)
{
	g_autoptr (GError) local_error = NULL;
	TrialJob *job = g_new0 (TrialJob, 1);
	GThread *thread;
	gint r;

	g_atomic_ref_count_init (&job->ref);
	g_mutex_init (&job->lock);
	g_cond_init (&job->cond);
	job->device = g_strdup (mu_bundle_get_device (t->bundle));
	job->header_json = g_strdup (mu_bundle_get_header_json (t->bundle));
	job->slot = slot;
	job->key = mu_secret_new_copy (key->data, key->len);

	g_atomic_ref_count_inc (&job->ref);
	thread = g_thread_try_new ("mu-key-trial", trial_job_run, job, &local_error);
	if (thread == NULL) {
		g_message ("cannot start a key trial: %s", local_error->message);
		trial_job_unref (job);
		trial_job_unref (job);
		return -EAGAIN;
	}

	g_mutex_lock (&job->lock);
	while (!job->done) {
		gint64 now = g_get_monotonic_time ();

		if (g_cancellable_is_cancelled (t->cancellable) || now >= t->deadline)
			break;
		g_cond_wait_until (&job->cond, &job->lock, MIN (now + TRIAL_POLL_US, t->deadline));
	}
	if (job->done) {
		r = job->result;
		*out_volume_key = g_steal_pointer (&job->volume_key);
	} else {
		r = g_cancellable_is_cancelled (t->cancellable) ? -ECANCELED : -ETIMEDOUT;
	}
	g_mutex_unlock (&job->lock);
	/* A finished thread is joined, so that its thread-local state (libcrypto's)
	 * is gone before the caller goes on; an abandoned one is left to end alone. */
	if (r != -ECANCELED && r != -ETIMEDOUT)
		g_thread_join (thread);
	else
		g_thread_unref (thread);
	trial_job_unref (job);
	return r;
}

static gboolean
stopped_error (Trial *t, gint r, GError **error)
{
	if (r == -ECANCELED) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CANCELLED,
				     "The key trial was cancelled");
		return TRUE;
	}
	if (r == -ETIMEDOUT) {
		const MuPbkdfLimits *limits = mu_bundle_get_pbkdf_limits (t->bundle);
		g_autofree gchar *summary = mu_key_trials_summarize (t->own_trials,
								     MU_NO_KEY_MESSAGE_MAX);

		g_set_error (error, MU_ERROR, MU_ERROR_NO_KEY,
			     "No key opened bundle '%s' within the %u s the device spends on key "
			     "trials ([Unlock] MaxTrialSeconds), after %u attempt%s: tried %s. The "
			     "bundle has too many or too costly keyslots for this device; get a "
			     "bundle made for it",
			     mu_bundle_get_path (t->bundle), limits->max_trial_seconds,
			     t->own_trials->len, t->own_trials->len == 1 ? "" : "s", summary);
		return TRUE;
	}
	return FALSE;
}

/* Check-only: the volume key is read into locked memory, nothing is activated,
 * so no device-mapper and no root. TRUE when @key opened the slot; FALSE with
 * @error set when the trials must stop (cancelled, out of time). */
static gboolean
try_one (Trial *t, guint key_index, guint slot_index, gboolean hinted, GError **error)
{
	const MuKey *key = g_ptr_array_index (t->keys, key_index);
	const MuBundleKeyslot *ks = g_ptr_array_index (t->info->keyslots, slot_index);
	g_autoptr (MuSecret) volume_key = NULL;
	gboolean argon2 = g_str_has_prefix (ks->pbkdf_type != NULL ? ks->pbkdf_type : "", "argon2");
	gint64 start = g_get_monotonic_time ();
	gint64 duration;
	guint64 available_kib;
	int r;

	t->tried[key_index * t->info->keyslots->len + slot_index] = TRUE;
	if (!mu_pbkdf_limits_allow (mu_bundle_get_pbkdf_limits (t->bundle), ks)) {
		g_message ("Bundle '%s': not trying keyslot %d: its PBKDF (%s, %u iterations, "
			   "%u KiB, %u threads) is over this device's limits ([Unlock] in "
			   "mediaupd.conf)",
			   mu_bundle_get_path (t->bundle), ks->slot, ks->pbkdf_type,
			   ks->pbkdf_iterations, ks->pbkdf_memory_kib, ks->pbkdf_parallel);
		record (t, key, ks->slot, hinted, FALSE, -E2BIG, 0);
		return FALSE;
	}
	if (argon2 && ks->pbkdf_memory_kib > (available_kib = available_memory_kib ())) {
		g_message ("Bundle '%s': not trying keyslot %d: its PBKDF needs %u KiB, the device "
			   "has %" G_GUINT64_FORMAT " KiB available",
			   mu_bundle_get_path (t->bundle), ks->slot, ks->pbkdf_memory_kib,
			   available_kib);
		record (t, key, ks->slot, hinted, FALSE, -ENOMEM, 0);
		return FALSE;
	}
	r = run_trial (t, key, ks->slot, &volume_key);
	duration = g_get_monotonic_time () - start;
	g_debug ("Bundle '%s': key '%s' against keyslot %d%s: %s (%.1f ms)",
		 mu_bundle_get_path (t->bundle), key->id, ks->slot, hinted ? " (hinted)" : "",
		 mu_key_trial_result_to_string (r), (gdouble) duration / 1000.0);
	record (t, key, ks->slot, hinted, TRUE, r, duration);
	if (stopped_error (t, r, error) || r < 0)
		return FALSE;
	t->opened_slot = r;
	t->opened_key = key;
	t->volume_key = g_steal_pointer (&volume_key);
	return TRUE;
}

static gboolean
check_cancelled (GCancellable *cancellable, GError **error)
{
	if (!g_cancellable_is_cancelled (cancellable))
		return FALSE;
	g_set_error_literal (error, MU_ERROR, MU_ERROR_CANCELLED, "The key trial was cancelled");
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
			if (try_one (t, k, s, TRUE, error))
				return TRUE;
			if (*error != NULL)
				return FALSE;
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
				const MuBundleKeyslot *ks = g_ptr_array_index (t->info->keyslots,
									       s);
				gboolean unnamed = ks->key_id == NULL;

				if (ks->status != MU_BUNDLE_KEYSLOT_ACTIVE ||
				    t->tried[k * n_slots + s] || unnamed != (pass == 0))
					continue;
				if (check_cancelled (cancellable, error))
					return FALSE;
				if (try_one (t, k, s, FALSE, error))
					return TRUE;
				if (*error != NULL)
					return FALSE;
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
mu_bundle_try_keys (MuBundle *bundle, GPtrArray *keys, GPtrArray *trials, GCancellable *cancellable,
		    gint *out_slot, const MuKey **out_key, GError **error)
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
	t.cancellable = cancellable;
	t.deadline = g_get_monotonic_time () +
		     (gint64) mu_bundle_get_pbkdf_limits (bundle)->max_trial_seconds *
			     G_USEC_PER_SEC;

	/* The header chooses its ciphers; only the format's may reach a PBKDF. */
	if (!mu_bundle_check_own_encryption (bundle, error))
		return FALSE;

	if (!try_hinted (&t, cancellable, &local_error) &&
	    (local_error != NULL || !try_all (&t, cancellable, &local_error))) {
		if (local_error != NULL) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return FALSE;
		}
		set_no_key_error (&t, error);
		return FALSE;
	}
	mu_bundle_take_volume_key (bundle, g_steal_pointer (&t.volume_key));
	if (out_slot != NULL)
		*out_slot = t.opened_slot;
	if (out_key != NULL)
		*out_key = t.opened_key;
	return TRUE;
}
