/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "mu-error.h"
#include "mu-events.h"

/* The last structured record written, as field -> value. */
static GHashTable *last_fields;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	g_hash_table_remove_all (last_fields);
	for (gsize i = 0; i < n_fields; i++) {
		const gchar *value = fields[i].value;
		gsize len = fields[i].length < 0 ? strlen (value) : (gsize) fields[i].length;

		g_hash_table_insert (last_fields, g_strdup (fields[i].key), g_strndup (value, len));
	}
	return G_LOG_WRITER_HANDLED;
}

static const gchar *
field (const gchar *name)
{
	return g_hash_table_lookup (last_fields, name);
}

static void
test_events_fields (void)
{
	mu_event_unlocked ("/media/stick/static-update.bundle.enc", "main-2026", 3);
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_UNLOCKED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_KEY_ID"), ==, "main-2026");
	g_assert_cmpstr (field ("MEDIAUPD_KEYSLOT"), ==, "3");
	g_assert_nonnull (strstr (field ("MESSAGE"), "'main-2026'"));

	mu_event_deployed ("testos", "abcd", "2.1");
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_DEPLOYED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_VERSION"), ==, "2.1");

	mu_event_applied ("abcd", 1234, 2.5);
	g_assert_cmpstr (field ("MEDIAUPD_BYTES"), ==, "1234");
	g_assert_cmpstr (field ("MEDIAUPD_SECONDS"), ==, "2.500");
}

static void
test_events_refused_vs_failed (void)
{
	g_autoptr (GError) refusal = g_error_new (MU_ERROR, MU_ERROR_SIGNATURE_INVALID,
						  "no signature verifies");
	g_autoptr (GError) failure = g_error_new (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "disk full");

	mu_event_install_ended (MU_PHASE_VERIFY, "/m/b.enc", refusal);
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_REFUSED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_ERROR"), ==, "SignatureInvalid");
	g_assert_cmpstr (field ("MEDIAUPD_PHASE"), ==, "verify");
	g_assert_nonnull (strstr (field ("MESSAGE"), "no signature verifies"));
	g_assert_nonnull (strstr (field ("MESSAGE"), "not an official update"));
	/* The reason's name in the text too: `journalctl -u mediaupd` shows only that. */
	g_assert_true (g_str_has_prefix (field ("MESSAGE"),
					 "Update refused (SignatureInvalid) in phase verify: "));

	mu_event_install_ended (MU_PHASE_APPLY, "/m/b.enc", failure);
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_FAILED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_ERROR"), ==, "Failed");
	g_assert_cmpstr (field ("MEDIAUPD_PHASE"), ==, "apply");
}

/* Every refusal code has advice of its own, not the generic fallback. */
static void
test_events_advice (void)
{
	g_autoptr (GError) unknown = g_error_new (MU_ERROR, MU_ERROR_FAILED, "x");
	const gchar *generic = mu_error_advice (unknown);

	for (guint code = 0; code < MU_ERROR_LAST; code++) {
		g_autoptr (GError) e = g_error_new (MU_ERROR, code, "x");

		if (mu_error_is_refusal (e))
			g_assert_cmpstr (mu_error_advice (e), !=, generic);
	}
}

/* No field of any event holds a character a terminal would act on. */
static void
assert_fields_harmless (void)
{
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init (&iter, last_fields);
	while (g_hash_table_iter_next (&iter, &key, &value)) {
		g_assert_true (g_utf8_validate (value, -1, NULL));
		for (const gchar *p = value; *p != '\0'; p++)
			g_assert_false (g_ascii_iscntrl (*p));
	}
}

/* Names from the stick (file name, key id from a token, a label quoted in an error) are
 * escaped in the message and in the fields. */
static void
test_events_escaped (void)
{
	g_autoptr (GError) label = g_error_new (MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
						"its LUKS2 label is '\033[2Jbad\xff'");
	g_autoptr (GError) busy = g_error_new (MU_ERROR, MU_ERROR_IO,
					       "cannot close dm-crypt mapping mediaupd-1: busy");

	mu_event_unlocked ("/media/stick/\033]0;owned\a.enc", "main\n2026", 1);
	assert_fields_harmless ();
	g_assert_cmpstr (field ("MEDIAUPD_BUNDLE"), ==, "/media/stick/\\x1b]0;owned\\x07.enc");
	g_assert_cmpstr (field ("MEDIAUPD_KEY_ID"), ==, "main\\x0a2026");
	g_assert_nonnull (strstr (field ("MESSAGE"), "key 'main\\x0a2026'"));

	mu_event_bundle_found ("/media/stick/\xe2\x80\xaegpj.enc", 40000);
	assert_fields_harmless ();
	g_assert_nonnull (strstr (field ("MESSAGE"), "\\u202egpj.enc"));

	mu_event_install_ended (MU_PHASE_DISCOVER, "/m/x.enc", label);
	assert_fields_harmless ();
	g_assert_nonnull (strstr (field ("MESSAGE"), "label is '\\x1b[2Jbad\\xff'"));

	mu_event_deployed ("os\033", "abcd", NULL);
	assert_fields_harmless ();
	g_assert_cmpstr (field ("MEDIAUPD_OSNAME"), ==, "os\\x1b");
	g_assert_cmpstr (field ("MEDIAUPD_VERSION"), ==, "");

	mu_event_teardown_failed ("/m/x.enc", 3, busy);
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_TEARDOWN_FAILED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_EVENT"), ==, "teardown-failed");
	g_assert_cmpstr (field ("MEDIAUPD_ERROR"), ==, "Io");
	g_assert_cmpstr (field ("MEDIAUPD_ATTEMPTS"), ==, "3");
	g_assert_cmpstr (field ("PRIORITY"), ==, "4");
	g_assert_nonnull (strstr (field ("MESSAGE"), "is installed"));
	g_assert_nonnull (strstr (field ("MESSAGE"), "mediaupd-1: busy"));
}

/* The daemon's events: their ids, and medium strings escaped like the engine's. */
static void
test_events_daemon (void)
{
	g_autoptr (GError) older = g_error_new (MU_ERROR, MU_ERROR_DOWNGRADE, "1.0 < 2.0\033[2J");
	g_autoptr (GError) killed = g_error_new (MU_ERROR, MU_ERROR_WORKER_FAILED,
						 "the install process was killed by signal 9");

	mu_event_bundle_skipped ("/org/x/sdb1", "old\033.enc", older);
	assert_fields_harmless ();
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_BUNDLE_SKIPPED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_ERROR"), ==, "Downgrade");
	g_assert_cmpstr (field ("MEDIAUPD_BUNDLE"), ==, "old\\x1b.enc");
	g_assert_nonnull (strstr (field ("MESSAGE"), "1.0 < 2.0\\x1b[2J"));

	mu_event_worker_failed ("fd", killed);
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_WORKER_FAILED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_ERROR"), ==, "WorkerFailed");
	g_assert_cmpstr (field ("PRIORITY"), ==, "4");
	g_assert_nonnull (strstr (field ("MESSAGE"), "signal 9"));
	g_assert_true (g_str_has_prefix (field ("MESSAGE"), "Update failed (WorkerFailed): "));

	mu_event_reboot_pending ("/org/x/sdb1", "abcd", "2.\n0");
	assert_fields_harmless ();
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_REBOOT_PENDING_ID);
	g_assert_nonnull (strstr (field ("MESSAGE"), "once the medium is removed"));

	mu_event_rebooting ("the medium was removed");
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_REBOOTING_ID);

	mu_event_boot_marked_good ("abcd", "none");
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_BOOT_MARKED_GOOD_ID);
	g_assert_cmpstr (field ("MEDIAUPD_BOOT_BACKEND"), ==, "none");

	mu_event_boot_armed ("abcd", "2.\n0", "uboot");
	assert_fields_harmless ();
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_BOOT_ARMED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_BOOT_BACKEND"), ==, "uboot");

	mu_event_rolled_back ("bad1", "4\n", "good0", "grub");
	assert_fields_harmless ();
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_ROLLED_BACK_ID);
	g_assert_cmpstr (field ("MEDIAUPD_COMMIT"), ==, "bad1");
	g_assert_cmpstr (field ("MEDIAUPD_BOOTED_COMMIT"), ==, "good0");

	mu_event_blacklisted_refused ("bad1", "4");
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_BLACKLISTED_REFUSED_ID);
	g_assert_cmpstr (field ("MEDIAUPD_ERROR"), ==, "Blacklisted");

	mu_event_blacklist_cleared (NULL);
	g_assert_cmpstr (field ("MESSAGE_ID"), ==, MU_EVENT_BLACKLIST_CLEARED_ID);
	g_assert_nonnull (strstr (field ("MESSAGE"), "every commit"));
}

/* Which failures become MediaRemoved when the stick is gone: what a failing read can
 * produce; never a verdict on bytes that were read completely. */
static void
test_events_removal_rule (void)
{
	/* clang-format off */
	static const MuErrorCode from_reads[] = {
		MU_ERROR_FAILED, MU_ERROR_IO, MU_ERROR_NOT_FOUND, MU_ERROR_NOT_A_BUNDLE,
		MU_ERROR_CORRUPT_BUNDLE, MU_ERROR_CORRUPT_DELTA, MU_ERROR_NO_KEY,
	};
	static const MuErrorCode verdicts[] = {
		MU_ERROR_UNSIGNED, MU_ERROR_SIGNATURE_INVALID, MU_ERROR_KEY_REVOKED,
		MU_ERROR_WRONG_OS, MU_ERROR_DOWNGRADE, MU_ERROR_MISSING_FROM_COMMIT,
		MU_ERROR_ALREADY_INSTALLED, MU_ERROR_UNSUPPORTED_FORMAT, MU_ERROR_NO_SPACE,
		MU_ERROR_NO_TRUSTED_KEYS, MU_ERROR_CANCELLED, MU_ERROR_BUSY, MU_ERROR_CONFIG,
		MU_ERROR_INVALID_KEY, MU_ERROR_KEY_PERMISSIONS, MU_ERROR_MEDIA_REMOVED,
		MU_ERROR_INVALID_ARGUMENT, MU_ERROR_NOT_RUNNING, MU_ERROR_WORKER_FAILED,
		MU_ERROR_SUPERSEDED, MU_ERROR_BLACKLISTED, MU_ERROR_CORRUPT_BOOT_ENV,
	};
	/* clang-format on */
	g_autoptr (GError) ostree_read = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "read");
	g_autoptr (GError) cancelled = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");

	/* Every code is in one of the two lists. */
	g_assert_cmpuint (G_N_ELEMENTS (from_reads) + G_N_ELEMENTS (verdicts), ==, MU_ERROR_LAST);
	for (guint i = 0; i < G_N_ELEMENTS (from_reads); i++) {
		g_autoptr (GError) e = g_error_new (MU_ERROR, from_reads[i], "x");

		g_assert_true (mu_error_may_come_from_removal (e));
	}
	for (guint i = 0; i < G_N_ELEMENTS (verdicts); i++) {
		g_autoptr (GError) e = g_error_new (MU_ERROR, verdicts[i], "x");

		g_test_message ("%s", mu_error_code_to_name (verdicts[i]));
		g_assert_false (mu_error_may_come_from_removal (e));
	}
	g_assert_true (mu_error_may_come_from_removal (ostree_read));
	g_assert_false (mu_error_may_come_from_removal (cancelled));
	g_assert_false (mu_error_may_come_from_removal (NULL));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	last_fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	g_log_set_writer_func (capture_writer, NULL, NULL);
	g_test_add_func ("/events/fields", test_events_fields);
	g_test_add_func ("/events/refused-vs-failed", test_events_refused_vs_failed);
	g_test_add_func ("/events/advice", test_events_advice);
	g_test_add_func ("/events/escaped", test_events_escaped);
	g_test_add_func ("/events/daemon", test_events_daemon);
	g_test_add_func ("/events/removal-rule", test_events_removal_rule);
	return g_test_run ();
}
