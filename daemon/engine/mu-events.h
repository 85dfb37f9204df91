/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-progress.h"

G_BEGIN_DECLS

/*
 * Structured journal events. The MESSAGE_IDs are stable: support staff search for
 * them (`journalctl MESSAGE_ID=...`) and systemd/mediaupd.catalog explains each one.
 * Every event also carries MEDIAUPD_EVENT=<name>; refusals carry MEDIAUPD_ERROR=<name
 * of the MuErrorCode> and MEDIAUPD_PHASE=<phase>. Strings that may come from the medium
 * (paths, key ids, messages quoting a label) are escaped (mu_escape_untrusted()).
 */
#define MU_EVENT_BUNDLE_FOUND_ID "0225d7dc771eb4c05bc9c16dd600d6d1"
#define MU_EVENT_UNLOCKED_ID "1df9a685b26b0fdf3c5e51fa16ca7ac5"
#define MU_EVENT_SIGNATURE_VERIFIED_ID "aa0b65aa8ffe85f686f013cb4ffa7ac8"
#define MU_EVENT_REFUSED_ID "074dea9ae51f8bcec426499edd32dff9"
#define MU_EVENT_APPLIED_ID "7abdbd5b2608995c8fa3ed490f1625fa"
#define MU_EVENT_DEPLOYED_ID "a4e6b84b811cddf92a52a9a044444c78"
#define MU_EVENT_FAILED_ID "6171ed3f47ee7550ef616de84e335ce1"
#define MU_EVENT_TEARDOWN_FAILED_ID "1ca3aa65b2b64ba79d788953fd38400e"
/* The daemon's (mediaupd) own. */
#define MU_EVENT_BUNDLE_SKIPPED_ID "7b5fd067f90341a99e30cc75616f0d8f"
#define MU_EVENT_WORKER_FAILED_ID "f00c031d6e684dc1a0b5ea9354527564"
#define MU_EVENT_REBOOT_PENDING_ID "9102871f0870444ca54efed658230120"
#define MU_EVENT_REBOOTING_ID "67276b80ebe3473287c878a0aa403a95"
#define MU_EVENT_BOOT_MARKED_GOOD_ID "9c8e5c9228d7473da7ef10b54e02cf16"
#define MU_EVENT_BOOT_ARMED_ID "3f1c2b8e6d0a4c59a2e7b41d9c06f853"
#define MU_EVENT_ROLLED_BACK_ID "c47d0e91b3a84f2e8d65f0a2b19e7c34"
#define MU_EVENT_BOOT_TRIAL_ABORTED_ID "5b8e2d74a1c94f06b3d97e0c6a12f4d8"
#define MU_EVENT_BLACKLISTED_REFUSED_ID "5e9a83c2d7f14b60b8c3a1e4f2d6097b"
#define MU_EVENT_BLACKLIST_CLEARED_ID "a81f64d2c09e4b7385e2d1c6f4b3a950"
#define MU_EVENT_KEY_PLAIN_ID "d3b6f0e2a7c94e1b8f5d26a9c0e47b13"

/* A candidate bundle file was found on a medium. */
void mu_event_bundle_found (const gchar *path, guint64 size);
/* The bundle opened with the key @key_id in @keyslot (never the key itself). */
void mu_event_unlocked (const gchar *path, const gchar *key_id, gint keyslot);
/* The delta's signature verified with the trusted key @key_id. */
void mu_event_signature_verified (const gchar *key_id, const gchar *to_commit);
/* The delta was applied into the repository. */
void mu_event_applied (const gchar *to_commit, guint64 bytes, gdouble seconds);
/* The commit was deployed and becomes the default at the next boot. */
void mu_event_deployed (const gchar *osname, const gchar *commit, const gchar *version);

/*
 * The update was deployed, but closing the bundle (unmount, dm-crypt, loop device) still
 * failed after @attempts tries: a warning, the install itself succeeded.
 */
void mu_event_teardown_failed (const gchar *bundle_path, guint attempts, const GError *error);

/*
 * The install ended without deploying. A refusal (the bundle is not acceptable: bad
 * signature, wrong OS, downgrade, no key ...) and a failure (something broke while
 * working: I/O, libostree, media removed) are told apart by the error code, so this
 * picks MU_EVENT_REFUSED_ID or MU_EVENT_FAILED_ID. @error's message says what was wrong;
 * the event adds what to do.
 */
void mu_event_install_ended (MuPhase phase, const gchar *bundle_path, const GError *error);

/*
 * A file on a medium was not installed: @error says why (not a bundle, an older one, or
 * MU_ERROR_SUPERSEDED when a newer bundle on the same medium was chosen).
 */
void mu_event_bundle_skipped (const gchar *medium, const gchar *name, const GError *error);

/* The install process of @bundle died without a result; @error (WorkerFailed) says how. */
void mu_event_worker_failed (const gchar *bundle, const GError *error);

/* An update is deployed and the device restarts into it once @medium is removed. */
void mu_event_reboot_pending (const gchar *medium, const gchar *commit, const gchar *version);

/* The daemon asks systemd to restart the device into the new deployment (@reason says why). */
void mu_event_rebooting (const gchar *reason);

/* The booted deployment @commit was recorded as good by the boot-state backend @backend. */
void mu_event_boot_marked_good (const gchar *commit, const gchar *backend);

/* After a deploy of @commit, the backend @backend armed the boot counter. */
void mu_event_boot_armed (const gchar *commit, const gchar *version, const gchar *backend);

/* The boot counter was armed for @commit, which then was never deployed (the install was
 * stopped or failed between the arming and the deploy): disarmed, no longer pending,
 * nothing blacklisted; @booted_commit runs. @resumed_commit: the update that was waiting
 * for its first boot before, pending again with the counter left armed for it, or NULL. */
void mu_event_boot_trial_aborted (const gchar *commit, const gchar *version,
				  const gchar *booted_commit, const gchar *backend,
				  const gchar *resumed_commit);

/* At start: the boot loader fell back from @failed_commit to @booted_commit, which was then
 * undeployed and blacklisted. */
void mu_event_rolled_back (const gchar *failed_commit, const gchar *failed_version,
			   const gchar *booted_commit, const gchar *backend);

/* A bundle carried @commit, which is blacklisted (MU_ERROR_BLACKLISTED). */
void mu_event_blacklisted_refused (const gchar *commit, const gchar *version);

/* The blacklist lost @commit (NULL: every commit). */
void mu_event_blacklist_cleared (const gchar *commit);

/* The device key @key_id was read from the plain file @path, not from a sealed credential:
 * a warning that says how to seal it. */
void mu_event_key_plain (const gchar *path, const gchar *key_id);

/* TRUE for codes that describe an unacceptable bundle rather than a failure. */
gboolean mu_error_is_refusal (const GError *error);

/*
 * TRUE for errors that a medium pulled out mid-read can cause (I/O, a short or undecodable
 * file, a key trial on garbage): when the medium is gone, the engine reports those as
 * MU_ERROR_MEDIA_REMOVED. FALSE for verdicts on bytes that were read completely (a bad
 * signature, wrong OS, downgrade ...), which stand even if the stick is pulled afterwards.
 */
gboolean mu_error_may_come_from_removal (const GError *error);

/* What support staff or the user should do about @error, one sentence. */
const gchar *mu_error_advice (const GError *error);

G_END_DECLS
