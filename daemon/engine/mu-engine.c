/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mu-blacklist.h"
#include "mu-bundle-format.h"
#include "mu-bundle-v2.h"
#include "mu-delta.h"
#include "mu-device-keys.h"
#include "mu-engine.h"
#include "mu-error.h"
#include "mu-events.h"
#include "mu-file.h"
#include "mu-keyring.h"
#include "mu-ostree.h"
#include "mu-policy.h"
#include "mu-safe-open.h"
#include "mu-signed-delta.h"
#include "mu-unlock.h"
#include "mu-verity.h"

/* State handed from phase to phase. */
typedef struct {
	const MuConfig *config;
	MuProgress *progress;
	MuInstallResult *result;
	GCancellable *cancellable;
	MuPhase phase;
	MuUnlocked *unlocked;
	int delta_fd; /* the inner image's delta directory, opened once */
	GBytes *superblock;
	MuDeltaInfo *info;
	MuOstreeTarget *target;
	const gchar *bundle_path;
	int bundle_fd; /* the bundle given by descriptor (then bundle_path only names it), or -1 */
	gboolean check_only;
	gboolean have_medium;
	dev_t medium_dev; /* the filesystem holding the bundle file, from discover */
	int file_fd;      /* the bundle file as discover opened it (or bundle_fd), or -1 */
	gboolean own_file_fd;
	MuBundle *bundle;       /* its LUKS2 header, read from the file in discover */
	guint format;           /* the bundle's format version */
	MuSignedHeader *header; /* format v2: the verified signed header */
	const MuEngineDeployHooks *hooks;
} Install;

/* Closing the bundle after a deploy may meet a mapping still busy for a moment. */
#define TEARDOWN_ATTEMPTS 3
#define TEARDOWN_DELAY_USEC (500 * 1000)

void
mu_install_result_clear (MuInstallResult *r)
{
	g_clear_pointer (&r->bundle, g_free);
	g_clear_pointer (&r->key_id, g_free);
	g_clear_pointer (&r->signing_key_id, g_free);
	g_clear_pointer (&r->osname, g_free);
	g_clear_pointer (&r->from_commit, g_free);
	g_clear_pointer (&r->to_commit, g_free);
	g_clear_pointer (&r->version, g_free);
}

#if MEDIAUPD_TEST_HOOKS
/*
 * Test builds only (meson -Dtest_hooks=true): MEDIAUPD_TEST_PAUSE_AT=PHASE stops the whole
 * process (SIGSTOP) as it enters PHASE, after the progress report, so that a test can kill
 * it there or let it go on (SIGCONT) at a known point. Two points inside the deploy phase
 * have names of their own: "armed" (the deploy hooks armed the boot counter, nothing is
 * deployed yet) and "deployed" (the new deployment is the default, the install has not
 * reported yet).
 */
static void
test_pause_at (const gchar *point)
{
	if (g_strcmp0 (g_getenv ("MEDIAUPD_TEST_PAUSE_AT"), point) != 0)
		return;
	g_printerr ("test hook: stopping at %s\n", point);
	raise (SIGSTOP);
	/* A signal sent while stopped (SIGTERM: stop the install) is handled on another
	 * thread; give it the moment it needs, so that the next safe point sees it. */
	g_usleep (200 * 1000);
}
#endif

static void
enter (Install *in, MuPhase phase)
{
	in->phase = phase;
	if (in->progress != NULL)
		mu_progress_begin_phase (in->progress, phase);
	g_debug ("phase %s", mu_phase_to_string (phase));
#if MEDIAUPD_TEST_HOOKS
	test_pause_at (mu_phase_to_string (phase));
#endif
}

/* FALSE once the medium that held the bundle file is gone: the file's name no longer
 * resolves, or its block device left /sys. */
static gboolean
medium_present (const Install *in)
{
	g_autofree gchar *sys = NULL;
	struct stat st;

	if (stat (in->bundle_path, &st) < 0 && errno != EACCES)
		return FALSE;
	/* Filesystems without a block device (major 0) say no more than the name does. */
	if (major (in->medium_dev) == 0)
		return TRUE;
	sys = g_strdup_printf ("/sys/dev/block/%u:%u", major (in->medium_dev),
			       minor (in->medium_dev));
	return g_file_test (sys, G_FILE_TEST_EXISTS);
}

/*
 * After a failure that a failing read can cause, tells whether the stick went away. A
 * read error comes a moment before the kernel has removed the device, so a plain I/O
 * error gets a second to show it.
 */
static gboolean
medium_removed (const Install *in, const GError *error)
{
	guint waits = 0;

	if (!in->have_medium || !mu_error_may_come_from_removal (error))
		return FALSE;
	if (error->domain != MU_ERROR || error->code == MU_ERROR_IO ||
	    error->code == MU_ERROR_FAILED)
		waits = 10;
	for (guint i = 0;; i++) {
		if (!medium_present (in))
			return TRUE;
		if (i >= waits)
			return FALSE;
		g_usleep (100 * 1000);
	}
}

/* What unlock may spend and let the kernel see, from the configuration. */
static void
unlock_limits (const Install *in, MuPbkdfLimits *limits)
{
	limits->pbkdf2_max_iterations = in->config->pbkdf2_max_iterations;
	limits->argon2_max_time = in->config->argon2_max_time;
	limits->argon2_max_memory_kib = in->config->argon2_max_memory_kib;
	limits->argon2_max_threads = in->config->argon2_max_threads;
	limits->max_trial_seconds = in->config->max_trial_seconds;
}

static void
unlock_options (const Install *in, const MuPbkdfLimits *limits, GPtrArray *trials,
		MuUnlockOptions *options)
{
	options->run_dir = in->config->runtime_dir;
	options->max_size = in->config->bundle_max_size;
	options->trials = trials;
	options->limits = limits;
	options->extra_ciphers = (const gchar *const *) in->config->unlock_ciphers;
	options->filesystems = (const gchar *const *) in->config->unlock_filesystems;
}

static gboolean
phase_unlock (Install *in, const gchar *path, GError **error)
{
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GPtrArray) trials = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_key_trial_free);
	MuPbkdfLimits limits;
	MuUnlockOptions options;

	unlock_limits (in, &limits);
	unlock_options (in, &limits, trials, &options);
	enter (in, MU_PHASE_UNLOCK);
	keys = mu_device_keys_load ((const gchar *const *) in->config->key_dirs, NULL, error);
	if (keys == NULL)
		return FALSE;
	if (in->bundle_fd >= 0)
		in->unlocked = mu_unlock_bundle_fd (in->bundle_fd, path, keys, &options,
						    in->cancellable, error);
	else
		in->unlocked = mu_unlock_bundle (path, keys, &options, in->cancellable, error);
	in->result->key_trials = trials->len;
	if (in->unlocked == NULL)
		return FALSE;
	in->result->key_id = g_strdup (mu_unlocked_get_key_id (in->unlocked));
	in->result->keyslot = mu_unlocked_get_keyslot (in->unlocked);
	mu_event_unlocked (path, in->result->key_id, in->result->keyslot);
	return TRUE;
}

/*
 * Format v2: the key trial runs on the header already verified, read from the file (the
 * trial checks it reads the same header), so the PBKDF runs only for a bundle the policy
 * accepted; then the verity and crypt mappings and the mount. @data_path FALSE: the trial
 * only (a check), no loop device or mapping.
 */
static gboolean
phase_unlock_v2 (Install *in, const gchar *path, gboolean data_path, GError **error)
{
	g_autoptr (GPtrArray) keys = NULL;
	g_autoptr (GPtrArray) trials = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_key_trial_free);
	const MuKey *key = NULL;
	gint slot = -1;
	gboolean ok;
	MuPbkdfLimits limits;
	MuUnlockOptions options;

	unlock_limits (in, &limits);
	unlock_options (in, &limits, trials, &options);
	enter (in, MU_PHASE_UNLOCK);
	keys = mu_device_keys_load ((const gchar *const *) in->config->key_dirs, NULL, error);
	if (keys == NULL)
		return FALSE;
	mu_bundle_set_pbkdf_limits (in->bundle, &limits);
	ok = mu_bundle_try_keys (in->bundle, keys, trials, in->cancellable, &slot, &key, error);
	in->result->key_trials = trials->len;
	if (!ok)
		return FALSE;
	in->result->key_id = g_strdup (key->id);
	in->result->keyslot = slot;
	if (data_path) {
		in->unlocked = mu_unlock_bundle_v2 (in->file_fd, path, in->header,
						    mu_bundle_get_volume_key (in->bundle), key->id,
						    slot, &options, error);
		if (in->unlocked == NULL)
			return FALSE;
	}
	mu_event_unlocked (path, in->result->key_id, in->result->keyslot);
	return TRUE;
}

/* The delta directory is opened once, beneath the inner mount and without following
 * symlinks; the superblock and the parts are opened relative to it. The envelope is read
 * once, into memory and bounded: what is verified is exactly what gets applied. */
static GBytes *
read_envelope (Install *in, GError **error)
{
	int root_fd = mu_safe_open_root (mu_unlocked_get_root (in->unlocked), error);

	if (root_fd < 0)
		return NULL;
	in->delta_fd = mu_safe_open_dir (root_fd, MU_BUNDLE_DELTA_DIR, error);
	close (root_fd);
	if (in->delta_fd < 0)
		return NULL;
	return mu_safe_read_file (in->delta_fd, MU_BUNDLE_SUPERBLOCK, MU_SIGNED_DELTA_MAX_SIZE,
				  error);
}

static MuKeyring *
load_keyring (const MuConfig *config, GError **error)
{
	g_autoptr (MuKeyring) keyring = mu_keyring_new ();

	for (guint i = 0; config->trusted[i] != NULL; i++) {
		g_autoptr (GError) local_error = NULL;

		if (!mu_keyring_load_trusted (keyring, config->trusted[i], &local_error) &&
		    !g_error_matches (local_error, MU_ERROR, MU_ERROR_NOT_FOUND)) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return NULL;
		}
	}
	for (guint i = 0; config->revoked[i] != NULL; i++) {
		g_autoptr (GError) local_error = NULL;

		if (!mu_keyring_load_revoked (keyring, config->revoked[i], &local_error) &&
		    !g_error_matches (local_error, MU_ERROR, MU_ERROR_NOT_FOUND)) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return NULL;
		}
	}
	return g_steal_pointer (&keyring);
}

/* What the install result says of the update, from verified data only. */
static void
set_result_update (Install *in, const gchar *from_commit, const gchar *to_commit,
		   const gchar *version, guint64 timestamp, guint64 bytes)
{
	g_free (in->result->from_commit);
	in->result->from_commit = g_strdup (from_commit);
	g_free (in->result->to_commit);
	in->result->to_commit = g_strdup (to_commit);
	g_free (in->result->version);
	in->result->version = g_strdup (version);
	in->result->timestamp = timestamp;
	in->result->bytes = bytes;
}

static gboolean
phase_verify (Install *in, GError **error)
{
	g_autoptr (GBytes) envelope = NULL;
	g_autoptr (MuKeyring) keyring = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;

	enter (in, MU_PHASE_VERIFY);
	keyring = load_keyring (in->config, error);
	if (keyring == NULL)
		return FALSE;
	envelope = read_envelope (in, error);
	if (envelope == NULL)
		return FALSE;
	if (!mu_signed_delta_verify_bytes (envelope, keyring, &in->superblock, &signer, error))
		return FALSE;
	g_free (in->result->signing_key_id);
	in->result->signing_key_id = g_strdup (mu_ed25519_key_get_id (signer));
	in->info = mu_delta_info_new (in->superblock, error);
	if (in->info == NULL || !mu_delta_info_verify_commit_signature (in->info, keyring, error))
		return FALSE;
	/* v2: the policy decided on the signed header; the delta must be what it said. */
	if (in->header != NULL && !mu_bundle_v2_check_delta (in->header, in->info, error))
		return FALSE;
	set_result_update (in, in->info->from_commit, in->info->to_commit, in->info->version,
			   in->info->timestamp, in->info->total_compressed);
	mu_event_signature_verified (in->result->signing_key_id, in->info->to_commit);
	return TRUE;
}

/* Format v2, before any key: the signed header, against the live LUKS2 header. */
static gboolean
phase_verify_header (Install *in, GError **error)
{
	g_autoptr (MuKeyring) keyring = NULL;
	g_autoptr (MuEd25519Key) signer = NULL;
	const MuSignedHeader *h;

	enter (in, MU_PHASE_VERIFY);
	keyring = load_keyring (in->config, error);
	if (keyring == NULL)
		return FALSE;
	in->header = mu_bundle_v2_verify (in->bundle, keyring, &signer, error);
	if (in->header == NULL)
		return FALSE;
	h = in->header;
	in->result->signing_key_id = g_strdup (mu_ed25519_key_get_id (signer));
	set_result_update (in, h->from_commit[0] != '\0' ? h->from_commit : NULL, h->to_commit,
			   h->version[0] != '\0' ? h->version : NULL, h->timestamp,
			   h->total_compressed);
	mu_event_signature_verified (in->result->signing_key_id, h->to_commit);
	return TRUE;
}

/* The policy on @update: from the verified delta (v1) or the signed header (v2). */
static gboolean
check_policy (Install *in, MuPolicyUpdate *update, GError **error)
{
	MuPolicySystem system;
	MuPolicyLimits limits = {
		.allow_downgrade = in->config->allow_downgrade,
		.require_bindings = in->config->require_bindings,
		.margin_bytes = in->config->free_space_margin,
	};

	g_autoptr (GPtrArray) blacklist = NULL;
	g_autoptr (GPtrArray) blacklisted = NULL;

	enter (in, MU_PHASE_CHECK);
	/* Versions that failed to boot here are never tried again (mu-blacklist.h). */
	blacklist = mu_blacklist_load (in->config->state_dir, error);
	if (blacklist == NULL)
		return FALSE;
	blacklisted = mu_blacklist_commits (blacklist);
	limits.blacklist = (const gchar *const *) blacklisted->pdata;
	if (!mu_policy_check_blacklist (update, limits.blacklist, error)) {
		mu_event_blacklisted_refused (update->to_commit, update->version);
		return FALSE;
	}
	/* On a device the sysroot is "/" and must be the booted one. */
	in->target = mu_ostree_target_open (in->config->sysroot,
					    g_str_equal (in->config->sysroot, "/"), in->cancellable,
					    error);
	if (in->target == NULL)
		return FALSE;
	g_free (in->result->osname);
	in->result->osname = g_strdup (in->target->osname);
	mu_ostree_target_describe (in->target, &system);
	if (update->from_commit != NULL)
		update->from_present = mu_ostree_target_has_commit (in->target,
								    update->from_commit);
	if (!mu_ostree_target_free_bytes (in->target, &limits.free_bytes, error))
		return FALSE;
	if (!mu_policy_check (&system, update, &limits, error))
		return FALSE;
	/* v2: the tree's OS is known before the apply, from the signed header. */
	if (in->header != NULL && mu_policy_needs_tree_check (update))
		return mu_bundle_v2_check_tree_os (in->header, &system, error);
	return TRUE;
}

static gboolean
phase_check (Install *in, GError **error)
{
	const MuDeltaInfo *info = in->info;
	MuPolicyUpdate update = {
		.to_commit = info->to_commit,
		.from_commit = info->from_commit,
		.timestamp = info->timestamp,
		.version = info->version,
		.ref_bindings = (const gchar *const *) info->ref_bindings,
		.collection_binding = info->collection_binding,
		/* The objects, and the checked copy of the parts they come from. */
		.needed_bytes = info->total_uncompressed + info->total_compressed,
	};

	return check_policy (in, &update, error);
}

static gboolean
phase_check_header (Install *in, GError **error)
{
	MuPolicyUpdate update;

	mu_bundle_v2_policy_update (in->header, &update);
	return check_policy (in, &update, error);
}

static gboolean
phase_apply (Install *in, GError **error)
{
	gint64 start;

	enter (in, MU_PHASE_APPLY);
	start = g_get_monotonic_time ();
	if (!mu_ostree_apply_delta (in->target, in->superblock, in->info, in->delta_fd,
				    in->progress, in->cancellable, error))
		return FALSE;
	in->result->apply_seconds = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
	mu_event_applied (in->info->to_commit, in->info->total_compressed,
			  in->result->apply_seconds);
	return TRUE;
}

/* The OS of a commit bound to no ref or collection is known only from its tree, once the
 * apply has checksummed it into the repository; a refusal there is still the check's, and
 * removes the commit again. */
static gboolean
check_tree (Install *in, GError **error)
{
	MuPolicyUpdate update = {
		.ref_bindings = (const gchar *const *) in->info->ref_bindings,
		.collection_binding = in->info->collection_binding,
	};

	if (!mu_policy_needs_tree_check (&update))
		return TRUE;
	in->phase = MU_PHASE_CHECK;
	if (!mu_ostree_check_tree_os (in->target, in->info->to_commit, in->cancellable, error))
		return FALSE;
	in->phase = MU_PHASE_APPLY;
	return TRUE;
}

static gboolean
phase_deploy (Install *in, GError **error)
{
	enter (in, MU_PHASE_DEPLOY);
	/* The last point where stopping is free: once deploying starts it runs to its end
	 * (the boot configuration is swapped atomically at the end of it). */
	if (g_cancellable_set_error_if_cancelled (in->cancellable, error))
		return FALSE;
	/* The boot counter is armed before the new deployment can become the default. */
	if (in->hooks != NULL && in->hooks->before_deploy != NULL &&
	    !in->hooks->before_deploy (in->info->to_commit, in->info->version, in->hooks->user_data,
				       error))
		return FALSE;
#if MEDIAUPD_TEST_HOOKS
	test_pause_at ("armed");
#endif
	if (!mu_ostree_deploy (in->target, in->info->to_commit, NULL, error)) {
		if (in->hooks != NULL && in->hooks->deploy_failed != NULL)
			in->hooks->deploy_failed (in->info->to_commit, in->hooks->user_data);
		return FALSE;
	}
#if MEDIAUPD_TEST_HOOKS
	test_pause_at ("deployed");
#endif
	mu_event_deployed (in->target->osname, in->info->to_commit, in->info->version);
	return TRUE;
}

/* Between phases: where a cancelled install stops. */
static gboolean
safe_point (Install *in, GError **error)
{
	return !g_cancellable_set_error_if_cancelled (in->cancellable, error);
}

/*
 * The bundle file opened once for all that follows (given by descriptor: that one), and
 * its LUKS2 header read from it without a key, a loop device or a mapping: label, format
 * version and the formats this device accepts.
 */
static gboolean
open_header (Install *in, const gchar *path, GError **error)
{
	g_autofree gchar *proc = NULL;
	struct stat st;

	if (in->bundle_fd >= 0) {
		in->file_fd = in->bundle_fd;
	} else {
		in->file_fd = mu_file_open_regular (path, MU_FILE_NOFOLLOW, MU_ERROR_NOT_A_BUNDLE,
						    &st, error);
		if (in->file_fd < 0)
			return FALSE;
		in->own_file_fd = TRUE;
	}
	/* Every later read, the key trials' included, goes through this descriptor. */
	proc = g_strdup_printf ("/proc/self/fd/%d", in->file_fd);
	in->bundle = mu_bundle_open_device (proc, path, error);
	if (in->bundle == NULL)
		return FALSE;
	in->format = mu_bundle_get_info (in->bundle)->format_version;
	mu_bundle_set_extra_ciphers (in->bundle, (const gchar *const *) in->config->unlock_ciphers);
	return mu_bundle_check_format_allowed (path, in->format, in->config->bundle_formats, error);
}

/* Format v1: unlock, then verify and check what the decrypted image holds. */
static gboolean
run_v1 (Install *in, const gchar *path, GError **error)
{
	/* The v1 unlock reads the header again, through its own loop device. */
	g_clear_pointer (&in->bundle, mu_bundle_free);
	return phase_unlock (in, path, error) && safe_point (in, error) &&
	       phase_verify (in, error) && safe_point (in, error) && phase_check (in, error);
}

/* Format v2: the signed header and the policy before any key, then unlock and the
 * delta's own signature, which must describe the update the header did. */
static gboolean
run_v2 (Install *in, const gchar *path, GError **error)
{
	if (!phase_verify_header (in, error) || !safe_point (in, error) ||
	    !phase_check_header (in, error) || !safe_point (in, error))
		return FALSE;
	if (in->check_only)
		return phase_unlock_v2 (in, path, FALSE, error);
	return phase_unlock_v2 (in, path, TRUE, error) && safe_point (in, error) &&
	       phase_verify (in, error);
}

static gboolean
run_phases (Install *in, const gchar *path, GError **error)
{
	guint64 size = 0;

	struct stat st;

	enter (in, MU_PHASE_DISCOVER);
	if (in->bundle_fd >= 0) {
		/* A descriptor from a caller: no name to watch for a pulled medium. */
		if (!mu_unlock_check_candidate_fd (in->bundle_fd, path, in->config->bundle_max_size,
						   &size, error))
			return FALSE;
	} else {
		if (!mu_unlock_check_candidate (path, in->config->bundle_max_size, &size, error))
			return FALSE;
		/* Remembered so that a stick pulled in any later phase, unlock included, is
		 * told apart from a bad bundle. */
		if (stat (path, &st) == 0) {
			in->medium_dev = st.st_dev;
			in->have_medium = TRUE;
		}
	}
	mu_event_bundle_found (path, size);
	if (!open_header (in, path, error) || !safe_point (in, error))
		return FALSE;
	if (!(in->format == MU_BUNDLE_FORMAT_V2 ? run_v2 (in, path, error)
						: run_v1 (in, path, error)))
		return FALSE;
	if (in->check_only)
		return TRUE;
	return safe_point (in, error) && phase_apply (in, error) && check_tree (in, error) &&
	       phase_deploy (in, error);
}

/* Tears down what unlock set up, trying again a few times; *@out_attempts says how often. */
static gboolean
phase_finish (Install *in, guint *out_attempts, GError **error)
{
	g_autoptr (GError) close_error = NULL;
	gboolean ok = TRUE;
	guint attempt = 0;

	enter (in, MU_PHASE_FINISH);
	/* Before unmounting: an open directory keeps the inner mount busy. */
	if (in->delta_fd >= 0)
		close (in->delta_fd);
	in->delta_fd = -1;
	while (in->unlocked != NULL && attempt < TEARDOWN_ATTEMPTS) {
		if (attempt > 0) {
			g_debug ("finish: %s; trying again", close_error->message);
			g_usleep (TEARDOWN_DELAY_USEC);
		}
		attempt++;
		g_clear_error (&close_error);
		ok = mu_unlocked_close (in->unlocked, &close_error);
		if (ok)
			break;
	}
	*out_attempts = attempt;
	if (!ok)
		g_propagate_error (error, g_steal_pointer (&close_error));
	g_clear_pointer (&in->unlocked, mu_unlocked_free);
	g_clear_pointer (&in->target, mu_ostree_target_free);
	g_clear_pointer (&in->info, mu_delta_info_free);
	g_clear_pointer (&in->superblock, g_bytes_unref);
	g_clear_pointer (&in->header, mu_signed_header_free);
	g_clear_pointer (&in->bundle, mu_bundle_free);
	if (in->own_file_fd && in->file_fd >= 0)
		close (in->file_fd);
	in->file_fd = -1;
	return ok;
}

/* Errors of the libraries below, in the public domain where a code fits. */
static void
to_mu_error (GError **error)
{
	MuErrorCode code;
	GError *mapped;

	if ((*error)->domain == MU_ERROR || !mu_error_code_from_gerror (*error, &code))
		return;
	mapped = g_error_new_literal (MU_ERROR, code, (*error)->message);
	g_clear_error (error);
	*error = mapped;
}

static gboolean
engine_run (const MuConfig *config, const gchar *bundle_path, int bundle_fd, gboolean check_only,
	    const MuEngineDeployHooks *hooks, MuProgress *progress, MuInstallResult *result,
	    GCancellable *cancellable, GError **error)
{
	g_auto (MuInstallResult) local_result = { 0 };
	g_autoptr (GError) local_error = NULL;
	g_autoptr (GError) finish_error = NULL;
	Install in = {
		.config = config,
		.progress = progress,
		.result = result != NULL ? result : &local_result,
		.cancellable = cancellable,
		.delta_fd = -1,
		.file_fd = -1,
		.bundle_path = bundle_path,
		.bundle_fd = bundle_fd,
		.check_only = check_only,
		.hooks = hooks,
	};
	guint attempts = 0;
	gboolean ok;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	in.result->bundle = g_strdup (bundle_path);
	in.result->keyslot = -1;
	ok = run_phases (&in, bundle_path, &local_error);
	if (!ok) {
		in.result->failed_phase = in.phase;
		/* Read errors after the stick was pulled say nothing about the bundle; a verdict
		 * on bytes already read (a bad signature, a downgrade) stands. */
		if (medium_removed (&in, local_error)) {
			GError *removed =
				g_error_new (MU_ERROR, MU_ERROR_MEDIA_REMOVED,
					     "the medium holding the bundle was removed (%s)",
					     local_error->message);

			g_clear_error (&local_error);
			local_error = removed;
		} else if (in.unlocked != NULL && mu_unlocked_is_corrupted (in.unlocked)) {
			mu_verity_set_corrupt_error (&local_error);
		}
	}
	/* Tear down on success and failure alike. Once the update is deployed it is
	 * installed, whatever the teardown says: a failure there is a warning. */
	if (!phase_finish (&in, &attempts, &finish_error)) {
		if (ok)
			mu_event_teardown_failed (bundle_path, attempts, finish_error);
		else
			g_warning ("finish: %s", finish_error->message);
	}
	if (!ok) {
		to_mu_error (&local_error);
		g_prefix_error (&local_error, "%s: ", mu_phase_to_string (in.result->failed_phase));
		mu_event_install_ended (in.result->failed_phase, bundle_path, local_error);
		g_propagate_error (error, g_steal_pointer (&local_error));
		return FALSE;
	}
	if (progress != NULL && !check_only)
		mu_progress_done (progress);
	return TRUE;
}

gboolean
mu_engine_install (const MuConfig *config, const gchar *bundle_path,
		   const MuEngineDeployHooks *hooks, MuProgress *progress, MuInstallResult *result,
		   GCancellable *cancellable, GError **error)
{
	return engine_run (config, bundle_path, -1, FALSE, hooks, progress, result, cancellable,
			   error);
}

gboolean
mu_engine_install_fd (const MuConfig *config, int bundle_fd, const gchar *name,
		      const MuEngineDeployHooks *hooks, MuProgress *progress,
		      MuInstallResult *result, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail (bundle_fd >= 0, FALSE);
	return engine_run (config, name, bundle_fd, FALSE, hooks, progress, result, cancellable,
			   error);
}

gboolean
mu_engine_check (const MuConfig *config, const gchar *bundle_path, int bundle_fd,
		 MuProgress *progress, MuInstallResult *result, GCancellable *cancellable,
		 GError **error)
{
	return engine_run (config, bundle_path, bundle_fd, TRUE, NULL, progress, result,
			   cancellable, error);
}

void
mu_engine_cleanup_stale (const MuConfig *config)
{
	g_autoptr (GError) error = NULL;

	/* Mounts, mappings and loop devices named after mediaupd. */
	mu_unlock_cleanup_stale ();
	/* Part copies of an install that was killed, on the system's disk. */
	if (!mu_ostree_apply_remove_stale (config->sysroot, &error))
		g_warning ("cannot remove what a stopped install left in %s: %s", config->sysroot,
			   error->message);
}
