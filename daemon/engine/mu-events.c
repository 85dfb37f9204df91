/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "mu-error.h"
#include "mu-escape.h"
#include "mu-events.h"

#define LOG_DOMAIN "mediaupd"

gboolean
mu_error_is_refusal (const GError *error)
{
	if (error == NULL || error->domain != MU_ERROR)
		return FALSE;
	switch ((MuErrorCode) error->code) {
	case MU_ERROR_NOT_A_BUNDLE:
	case MU_ERROR_UNSUPPORTED_FORMAT:
	case MU_ERROR_CORRUPT_BUNDLE:
	case MU_ERROR_NO_KEY:
	case MU_ERROR_UNSIGNED:
	case MU_ERROR_SIGNATURE_INVALID:
	case MU_ERROR_KEY_REVOKED:
	case MU_ERROR_WRONG_OS:
	case MU_ERROR_DOWNGRADE:
	case MU_ERROR_MISSING_FROM_COMMIT:
	case MU_ERROR_CORRUPT_DELTA:
	case MU_ERROR_ALREADY_INSTALLED:
	case MU_ERROR_BLACKLISTED:
		return TRUE;
	default:
		return FALSE;
	}
}

gboolean
mu_error_may_come_from_removal (const GError *error)
{
	if (error == NULL)
		return FALSE;
	/* Errors of the libraries below (libostree, GIO) may be failed reads. */
	if (error->domain != MU_ERROR)
		return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	switch ((MuErrorCode) error->code) {
	/* What failing reads turn into: a short or unreadable file, a header or part that
	 * does not decode, a key trial that read garbage. */
	case MU_ERROR_FAILED:
	case MU_ERROR_IO:
	case MU_ERROR_NOT_FOUND:
	case MU_ERROR_NOT_A_BUNDLE:
	case MU_ERROR_CORRUPT_BUNDLE:
	case MU_ERROR_CORRUPT_DELTA:
	case MU_ERROR_NO_KEY:
		return TRUE;
	/* Verdicts on bytes that were read completely (signature, policy), and errors that
	 * are not about the medium at all. */
	default:
		return FALSE;
	}
}

const gchar *
mu_error_advice (const GError *error)
{
	if (error == NULL || error->domain != MU_ERROR)
		return "Check the journal lines before this one for the cause; if it persists, "
		       "contact support with the output of 'journalctl -u mediaupd'.";
	switch ((MuErrorCode) error->code) {
	case MU_ERROR_NOT_A_BUNDLE:
	case MU_ERROR_CORRUPT_BUNDLE:
		return "Copy the bundle file to the medium again from the official download; "
		       "the file on the medium is not a valid update bundle.";
	case MU_ERROR_UNSUPPORTED_FORMAT:
		return "The bundle's format or encryption is not one this device accepts (the "
		       "message says which); a newer format needs an intermediate update first, "
		       "format v1 only loads when [Bundle] Formats= allows it. Ask the vendor for "
		       "a bundle for this version.";
	case MU_ERROR_NO_KEY:
		return "The bundle was not made for this device (none of its keys opens it); "
		       "download the bundle for this device model.";
	case MU_ERROR_UNSIGNED:
	case MU_ERROR_SIGNATURE_INVALID:
	case MU_ERROR_KEY_REVOKED:
		return "Do not use this bundle: it is not an official update. Download the "
		       "update again from the vendor.";
	case MU_ERROR_NO_TRUSTED_KEYS:
		return "The device has no trusted signing keys installed; it cannot accept any "
		       "update. Contact support.";
	case MU_ERROR_WRONG_OS:
		return "The bundle is for another product or OS; download the bundle for this "
		       "device.";
	case MU_ERROR_DOWNGRADE:
		return "The bundle is older than the installed system; use a newer bundle.";
	case MU_ERROR_ALREADY_INSTALLED:
		return "Nothing to do: this version is already installed. Remove the medium.";
	case MU_ERROR_MISSING_FROM_COMMIT:
		return "The bundle updates from a version this device does not run; use the "
		       "full update bundle or the one for the installed version.";
	case MU_ERROR_NO_SPACE:
		return "Free space on the device (e.g. remove old deployments), then plug the "
		       "medium in again.";
	case MU_ERROR_CORRUPT_DELTA:
		return "The bundle's content is damaged; copy it to the medium again from the "
		       "official download.";
	case MU_ERROR_MEDIA_REMOVED:
		return "The medium was removed during the update; nothing was changed. Plug it "
		       "in again and leave it until the update has finished.";
	case MU_ERROR_KEY_PERMISSIONS:
	case MU_ERROR_INVALID_KEY:
		return "A device key file is unusable; fix its contents or permissions "
		       "(root-only, mode 0600 or 0400).";
	case MU_ERROR_CONFIG:
		return "Fix /etc/mediaupd/mediaupd.conf as the message says.";
	case MU_ERROR_BUSY:
		return "Wait for the running update to finish.";
	case MU_ERROR_NOT_RUNNING:
		return "Nothing is being installed; there is nothing to stop.";
	case MU_ERROR_WORKER_FAILED:
		return "The install process crashed or was killed; the device was cleaned up and "
		       "left as it was. Plug the medium in again; if it happens again, contact "
		       "support with the output of 'journalctl -u mediaupd'.";
	case MU_ERROR_SUPERSEDED:
		return "Nothing to do: a newer bundle on the same medium was installed instead.";
	case MU_ERROR_BLACKLISTED:
		return "This version failed to boot on this device before and was rolled back; "
		       "use a newer bundle. Only when the cause is known to be fixed, allow it again "
		       "with 'mediaupdctl clear-blacklist COMMIT'.";
	case MU_ERROR_CORRUPT_BOOT_ENV:
		return "The boot loader's environment is damaged or missing; restore it (U-Boot: "
		       "fw_setenv, GRUB: grub-editenv) before the next update.";
	default:
		return "Check the journal lines before this one for the cause; if it persists, "
		       "contact support with the output of 'journalctl -u mediaupd'.";
	}
}

static const gchar *
error_name (const GError *error)
{
	if (error == NULL || error->domain != MU_ERROR)
		return mu_error_code_to_name (MU_ERROR_FAILED);
	return mu_error_code_to_name (error->code);
}

/*
 * Every string below may come from the medium (a file name, a key id from a token, a
 * label quoted in an error message), so each is escaped before it reaches the journal
 * and the terminals that show it.
 */
#define E(s) mu_escape_untrusted_in (pool, (s))

void
mu_event_bundle_found (const gchar *path, guint64 size)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *size_str = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_BUNDLE_FOUND_ID,
			  "MEDIAUPD_EVENT", "bundle-found", "MEDIAUPD_BUNDLE", E (path),
			  "MEDIAUPD_BUNDLE_SIZE", size_str, "MESSAGE",
			  "Found update bundle '%s' (%" G_GUINT64_FORMAT " bytes)", E (path), size);
}

void
mu_event_unlocked (const gchar *path, const gchar *key_id, gint keyslot)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *slot_str = g_strdup_printf ("%d", keyslot);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_UNLOCKED_ID,
			  "MEDIAUPD_EVENT", "unlocked", "MEDIAUPD_BUNDLE", E (path),
			  "MEDIAUPD_KEY_ID", E (key_id), "MEDIAUPD_KEYSLOT", slot_str, "MESSAGE",
			  "Unlocked bundle '%s' with key '%s' (keyslot %d)", E (path), E (key_id),
			  keyslot);
}

void
mu_event_signature_verified (const gchar *key_id, const gchar *to_commit)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID",
			  MU_EVENT_SIGNATURE_VERIFIED_ID, "MEDIAUPD_EVENT", "signature-verified",
			  "MEDIAUPD_SIGNING_KEY", E (key_id), "MEDIAUPD_COMMIT", E (to_commit),
			  "MESSAGE", "Update signature verified with trusted key '%s' (commit %s)",
			  E (key_id), E (to_commit));
}

void
mu_event_applied (const gchar *to_commit, guint64 bytes, gdouble seconds)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *bytes_str = g_strdup_printf ("%" G_GUINT64_FORMAT, bytes);
	g_autofree gchar *secs_str = g_strdup_printf ("%.3f", seconds);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_APPLIED_ID,
			  "MEDIAUPD_EVENT", "applied", "MEDIAUPD_COMMIT", E (to_commit),
			  "MEDIAUPD_BYTES", bytes_str, "MEDIAUPD_SECONDS", secs_str, "MESSAGE",
			  "Applied update to commit %s (%" G_GUINT64_FORMAT " bytes in %.1f s)",
			  E (to_commit), bytes, seconds);
}

void
mu_event_deployed (const gchar *osname, const gchar *commit, const gchar *version)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_DEPLOYED_ID,
			  "MEDIAUPD_EVENT", "deployed", "MEDIAUPD_OSNAME", E (osname),
			  "MEDIAUPD_COMMIT", E (commit), "MEDIAUPD_VERSION", E (version), "MESSAGE",
			  "Deployed %s version '%s' (commit %s); it starts at the next boot",
			  E (osname), version != NULL ? E (version) : "unknown", E (commit));
}

void
mu_event_teardown_failed (const gchar *bundle_path, guint attempts, const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *attempts_str = g_strdup_printf ("%u", attempts);
	const gchar *message = error != NULL ? error->message : "unknown error";

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID",
			  MU_EVENT_TEARDOWN_FAILED_ID, "MEDIAUPD_EVENT", "teardown-failed",
			  "MEDIAUPD_BUNDLE", E (bundle_path), "MEDIAUPD_ERROR", error_name (error),
			  "MEDIAUPD_ATTEMPTS", attempts_str, "MESSAGE",
			  "The update is installed, but the bundle could not be closed after %u "
			  "attempts: %s. Restart the device (or remove the medium) to release it.",
			  attempts, E (message));
}

void
mu_event_install_ended (MuPhase phase, const gchar *bundle_path, const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	gboolean refusal = mu_error_is_refusal (error);
	const gchar *message = error != NULL ? error->message : "unknown error";

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID",
			  refusal ? MU_EVENT_REFUSED_ID : MU_EVENT_FAILED_ID, "MEDIAUPD_EVENT",
			  refusal ? "refused" : "failed", "MEDIAUPD_PHASE",
			  mu_phase_to_string (phase), "MEDIAUPD_ERROR", error_name (error),
			  "MEDIAUPD_BUNDLE", E (bundle_path), "MEDIAUPD_ADVICE",
			  mu_error_advice (error), "MESSAGE", "Update %s (%s) in phase %s: %s. %s",
			  refusal ? "refused" : "failed", error_name (error),
			  mu_phase_to_string (phase), E (message), mu_error_advice (error));
}

void
mu_event_bundle_skipped (const gchar *medium, const gchar *name, const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	const gchar *message = error != NULL ? error->message : "unknown reason";

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_BUNDLE_SKIPPED_ID,
			  "MEDIAUPD_EVENT", "bundle-skipped", "MEDIAUPD_MEDIUM", E (medium),
			  "MEDIAUPD_BUNDLE", E (name), "MEDIAUPD_ERROR", error_name (error),
			  "MESSAGE", "Skipped '%s' on %s: %s (%s)", E (name), E (medium),
			  error_name (error), E (message));
}

void
mu_event_worker_failed (const gchar *bundle, const GError *error)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	const gchar *message = error != NULL ? error->message : "unknown error";

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID", MU_EVENT_WORKER_FAILED_ID,
			  "MEDIAUPD_EVENT", "worker-failed", "MEDIAUPD_BUNDLE", E (bundle),
			  "MEDIAUPD_ERROR", error_name (error), "MEDIAUPD_ADVICE",
			  mu_error_advice (error), "MESSAGE", "Update failed (%s): %s. %s",
			  error_name (error), E (message), mu_error_advice (error));
}

void
mu_event_reboot_pending (const gchar *medium, const gchar *commit, const gchar *version)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_REBOOT_PENDING_ID,
			  "MEDIAUPD_EVENT", "reboot-pending", "MEDIAUPD_MEDIUM", E (medium),
			  "MEDIAUPD_COMMIT", E (commit), "MEDIAUPD_VERSION", E (version), "MESSAGE",
			  "Update to version '%s' installed; the device restarts into it once the "
			  "medium is removed",
			  version != NULL ? E (version) : "unknown");
}

void
mu_event_rebooting (const gchar *reason)
{
	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_REBOOTING_ID,
			  "MEDIAUPD_EVENT", "rebooting", "MESSAGE",
			  "Restarting the device into the installed update (%s)", reason);
}

void
mu_event_boot_marked_good (const gchar *commit, const gchar *backend)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID",
			  MU_EVENT_BOOT_MARKED_GOOD_ID, "MEDIAUPD_EVENT", "boot-marked-good",
			  "MEDIAUPD_COMMIT", E (commit), "MEDIAUPD_BOOT_BACKEND", backend,
			  "MESSAGE",
			  "The booted system (commit %s) was marked good (boot-state backend %s)",
			  E (commit), backend);
}

void
mu_event_boot_armed (const gchar *commit, const gchar *version, const gchar *backend)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", MU_EVENT_BOOT_ARMED_ID,
			  "MEDIAUPD_EVENT", "boot-armed", "MEDIAUPD_COMMIT", E (commit),
			  "MEDIAUPD_VERSION", E (version), "MEDIAUPD_BOOT_BACKEND", backend,
			  "MESSAGE",
			  "The boot counter is armed for commit %s (version %s, boot-state backend "
			  "%s): the device falls back if it does not boot",
			  E (commit), E (version), backend);
}

void
mu_event_boot_trial_aborted (const gchar *commit, const gchar *version, const gchar *booted_commit,
			     const gchar *backend, const gchar *resumed_commit)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
	g_autofree gchar *tail =
		resumed_commit != NULL
			? g_strdup_printf ("; the counter stays armed for commit %s, which waits "
					   "for its first boot",
					   E (resumed_commit))
			: g_strdup ("; the boot counter is disarmed");

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID",
			  MU_EVENT_BOOT_TRIAL_ABORTED_ID, "MEDIAUPD_EVENT", "boot-trial-aborted",
			  "MEDIAUPD_COMMIT", E (commit), "MEDIAUPD_VERSION", E (version),
			  "MEDIAUPD_BOOTED_COMMIT", E (booted_commit), "MEDIAUPD_BOOT_BACKEND",
			  backend, "MESSAGE",
			  "The boot counter was armed for commit %s (version %s, boot-state backend "
			  "%s), but the update was never deployed: not a failed boot, nothing is "
			  "blacklisted%s",
			  E (commit), E (version), backend, tail);
}

void
mu_event_rolled_back (const gchar *failed_commit, const gchar *failed_version,
		      const gchar *booted_commit, const gchar *backend)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID", MU_EVENT_ROLLED_BACK_ID,
			  "MEDIAUPD_EVENT", "rolled-back", "MEDIAUPD_COMMIT", E (failed_commit),
			  "MEDIAUPD_VERSION", E (failed_version), "MEDIAUPD_BOOTED_COMMIT",
			  E (booted_commit), "MEDIAUPD_BOOT_BACKEND", backend, "MESSAGE",
			  "The update to commit %s (version %s) did not boot: the boot loader fell "
			  "back to commit %s; the failed version was removed and blacklisted",
			  E (failed_commit), E (failed_version), E (booted_commit));
}

void
mu_event_blacklisted_refused (const gchar *commit, const gchar *version)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID",
			  MU_EVENT_BLACKLISTED_REFUSED_ID, "MEDIAUPD_EVENT", "blacklisted-refused",
			  "MEDIAUPD_COMMIT", E (commit), "MEDIAUPD_VERSION", E (version),
			  "MEDIAUPD_ERROR", mu_error_code_to_name (MU_ERROR_BLACKLISTED), "MESSAGE",
			  "Refused the update to commit %s (version %s): it failed to boot on this "
			  "device before",
			  E (commit), E (version));
}

void
mu_event_blacklist_cleared (const gchar *commit)
{
	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID",
			  MU_EVENT_BLACKLIST_CLEARED_ID, "MEDIAUPD_EVENT", "blacklist-cleared",
			  "MEDIAUPD_COMMIT", commit != NULL ? commit : "", "MESSAGE",
			  "The blacklist of failed versions was cleared (%s)",
			  commit != NULL ? commit : "every commit");
}

void
mu_event_key_plain (const gchar *path, const gchar *key_id)
{
	g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);

	g_log_structured (LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE_ID", MU_EVENT_KEY_PLAIN_ID,
			  "MEDIAUPD_EVENT", "key-plain", "MEDIAUPD_KEY_ID", E (key_id),
			  "MEDIAUPD_KEY_PATH", E (path), "MESSAGE",
			  "Device key %s is a plain file (%s): whoever reads it opens every bundle "
			  "for this device; seal it with 'mediaupdctl keys seal %s'",
			  E (key_id), E (path), E (key_id));
}
