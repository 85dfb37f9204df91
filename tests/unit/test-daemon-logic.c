/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's own logic without a bus: worker messages, the choice among bundles, the
 * saved state. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "mu-daemon-state.h"
#include "mu-error.h"
#include "mu-queue.h"
#include "mu-worker-proto.h"

static GBytes *
serialize (GVariant *v)
{
	g_autoptr (GVariant) owned = g_variant_ref_sink (v);

	return g_variant_get_data_as_bytes (owned);
}

static void
assert_refused (GBytes *bytes, const gchar *what)
{
	g_auto (MuWorkerMessage) message = { 0 };
	g_autoptr (GError) error = NULL;

	g_assert_false (mu_worker_message_parse (bytes, &message, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_WORKER_FAILED);
	g_assert_nonnull (strstr (error->message, what));
	g_assert_null (message.details);
	g_assert_null (message.error);
}

static void
test_proto_roundtrip (void)
{
	MuProgressState s = { MU_PHASE_APPLY, 55, 1000, 4000, 2, 7 };
	g_autoptr (GBytes) progress = mu_worker_message_new_progress (&s);
	g_autoptr (GError) failure = g_error_new (MU_ERROR, MU_ERROR_DOWNGRADE, "check: older");
	g_autoptr (GError) foreign = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "gio");
	g_autoptr (GBytes) result = NULL;
	g_autoptr (GBytes) failed = NULL;
	g_autoptr (GBytes) other = NULL;
	g_autoptr (GError) error = NULL;
	GVariantBuilder b;

	{
		g_auto (MuWorkerMessage) m = { 0 };

		g_assert_true (mu_worker_message_parse (progress, &m, &error));
		g_assert_no_error (error);
		g_assert_cmpint (m.kind, ==, MU_WORKER_MESSAGE_PROGRESS);
		g_assert_cmpint (m.progress.phase, ==, MU_PHASE_APPLY);
		g_assert_cmpuint (m.progress.percentage, ==, 55);
		g_assert_cmpuint (m.progress.bytes_done, ==, 1000);
		g_assert_cmpuint (m.progress.bytes_total, ==, 4000);
		g_assert_cmpuint (m.progress.items_total, ==, 7);
	}
	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", "to-commit", g_variant_new_string ("abc"));
	g_variant_builder_add (&b, "{sv}", "timestamp", g_variant_new_uint64 (42));
	result = mu_worker_message_new_result (NULL, g_variant_builder_end (&b));
	{
		g_auto (MuWorkerMessage) m = { 0 };
		guint64 ts = 0;

		g_assert_true (mu_worker_message_parse (result, &m, &error));
		g_assert_cmpint (m.kind, ==, MU_WORKER_MESSAGE_RESULT);
		g_assert_null (m.error);
		g_assert_true (g_variant_lookup (m.details, "timestamp", "t", &ts));
		g_assert_cmpuint (ts, ==, 42);
	}
	failed = mu_worker_message_new_result (failure, NULL);
	{
		g_auto (MuWorkerMessage) m = { 0 };

		g_assert_true (mu_worker_message_parse (failed, &m, &error));
		g_assert_error (m.error, MU_ERROR, MU_ERROR_DOWNGRADE);
		g_assert_cmpstr (m.error->message, ==, "check: older");
		g_assert_cmpuint (g_variant_n_children (m.details), ==, 0);
	}
	/* Errors of other domains travel as Failed. */
	other = mu_worker_message_new_result (foreign, NULL);
	{
		g_auto (MuWorkerMessage) m = { 0 };

		g_assert_true (mu_worker_message_parse (other, &m, &error));
		g_assert_error (m.error, MU_ERROR, MU_ERROR_FAILED);
	}
}

/* A long message is cut by the sender, not refused by the daemon. */
static void
test_proto_long_message (void)
{
	g_autofree gchar *text = g_strnfill (3 * MU_WORKER_STRING_MAX, 'x');
	g_autoptr (GError) long_error = g_error_new_literal (MU_ERROR, MU_ERROR_IO, text);
	g_autoptr (GBytes) bytes = mu_worker_message_new_result (long_error, NULL);
	g_auto (MuWorkerMessage) m = { 0 };
	g_autoptr (GError) error = NULL;

	g_assert_true (mu_worker_message_parse (bytes, &m, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (strlen (m.error->message), <=, MU_WORKER_STRING_MAX);
	g_assert_true (g_str_has_suffix (m.error->message, "..."));
}

static GVariant *
result_with (GVariant *details)
{
	return g_variant_new ("(sv)", "result",
			      g_variant_new ("(bss@a{sv})", TRUE, "", "", details));
}

static GVariant *
one_detail (const gchar *key, GVariant *value)
{
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", key, value);
	return g_variant_builder_end (&b);
}

/* What a compromised or confused worker could send. */
static void
test_proto_refused (void)
{
	g_autofree gchar *huge = g_strnfill (MU_WORKER_STRING_MAX + 1, 'a');
	g_autoptr (GPtrArray) many = g_ptr_array_new ();
	guint8 garbage[] = { 0xff, 0xfe, 0x00, 0x01, 0x02 };
	GVariantBuilder b;

	for (guint i = 0; i <= MU_WORKER_ARRAY_MAX; i++)
		g_ptr_array_add (many, (gpointer) "k");
	g_ptr_array_add (many, NULL);

#define REFUSED(v, what)                                                                           \
	G_STMT_START                                                                               \
	{                                                                                          \
		g_autoptr (GBytes) bytes_ = serialize (v);                                         \
		assert_refused (bytes_, what);                                                     \
	}                                                                                          \
	G_STMT_END
	REFUSED (g_variant_new ("(sv)", "hello", g_variant_new_string ("x")), "unknown kind");
	REFUSED (g_variant_new ("(sv)", "progress", g_variant_new_string ("x")), "wrong type");
	REFUSED (g_variant_new ("(sv)", "progress",
				g_variant_new ("(suttuu)", "launch", 1, 0, 0, 0, 0)),
		 "unknown phase");
	REFUSED (g_variant_new ("(sv)", "progress",
				g_variant_new ("(suttuu)", "apply", 101, 0, 0, 0, 0)),
		 "out of range");
	REFUSED (g_variant_new ("(sv)", "progress",
				g_variant_new ("(suttuu)", "apply", 1, 5, 4, 0, 0)),
		 "out of range");
	REFUSED (g_variant_new ("(sv)", "result",
				g_variant_new ("(bss@a{sv})", FALSE, "Pwned", "m",
					       one_detail ("phase", g_variant_new_string ("x")))),
		 "unknown error name");
	REFUSED (g_variant_new ("(sv)", "result",
				g_variant_new ("(bss@a{sv})", TRUE, "Io", "",
					       one_detail ("phase", g_variant_new_string ("x")))),
		 "success with an error");
	REFUSED (result_with (one_detail ("shell", g_variant_new_string ("rm -rf /"))),
		 "unknown or malformed detail");
	REFUSED (result_with (one_detail ("timestamp", g_variant_new_string ("42"))),
		 "unknown or malformed detail");
	REFUSED (result_with (one_detail ("version", g_variant_new_string (huge))),
		 "unknown or malformed detail");
	REFUSED (result_with (
			 one_detail ("key_ids",
				     g_variant_new_strv ((const gchar *const *) many->pdata, -1))),
		 "unknown or malformed detail");
	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", "version", g_variant_new_string ("1"));
	g_variant_builder_add (&b, "{sv}", "version", g_variant_new_string ("2"));
	REFUSED (result_with (g_variant_builder_end (&b)), "unknown or malformed detail");
#undef REFUSED
	{
		g_autoptr (GBytes) bytes = g_bytes_new (garbage, sizeof garbage);

		assert_refused (bytes, "not in normal form");
	}
	/* A string that is not UTF-8 (the serialized form allows any bytes). */
	{
		g_autoptr (GBytes) good = serialize (
			result_with (one_detail ("version", g_variant_new_string ("AAAA"))));
		gsize len = g_bytes_get_size (good);
		g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (good, NULL), len);
		g_autoptr (GBytes) bad = NULL;
		guint8 *at = memmem (data, len, "AAAA", 4);

		g_assert_nonnull (at);
		at[1] = 0xff;
		bad = g_bytes_new (data, len);
		assert_refused (bad, "not in normal form");
	}
	{
		g_autofree gchar *big = g_malloc0 (MU_WORKER_MESSAGE_MAX + 1);
		g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&big),
							     MU_WORKER_MESSAGE_MAX + 1);

		assert_refused (bytes, "too large");
	}
}

static MuQueueCandidate *
checked (const gchar *name, guint64 timestamp, MuErrorCode code)
{
	MuQueueCandidate *c = mu_queue_candidate_new (name, name, 100000);
	g_autoptr (GError) error = NULL;
	GVariantBuilder b;

	if (code != MU_ERROR_LAST) {
		error = g_error_new (MU_ERROR, code, "%s refused", name);
		mu_queue_candidate_set_result (c, error, NULL);
		return c;
	}
	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", "to-commit", g_variant_new_string (name));
	g_variant_builder_add (&b, "{sv}", "timestamp", g_variant_new_uint64 (timestamp));
	mu_queue_candidate_set_result (c, NULL, g_variant_builder_end (&b));
	return c;
}

static void
test_choose (void)
{
	g_autoptr (GPtrArray) c = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_queue_candidate_free);
	g_autoptr (GPtrArray) none = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_queue_candidate_free);
	MuQueueCandidate *nodetail;

	/* Foreign, older, newer, newest-but-refused, a tie with the newer. */
	g_ptr_array_add (c, checked ("foreign", 0, MU_ERROR_NOT_A_BUNDLE));
	g_ptr_array_add (c, checked ("older", 100, MU_ERROR_LAST));
	g_ptr_array_add (c, checked ("newer", 200, MU_ERROR_LAST));
	g_ptr_array_add (c, checked ("unsigned", 900, MU_ERROR_UNSIGNED));
	g_ptr_array_add (c, checked ("same-as-newer", 200, MU_ERROR_LAST));
	g_assert_cmpstr (mu_queue_choose (c)->name, ==, "newer");

	g_ptr_array_add (none, checked ("foreign", 0, MU_ERROR_NOT_A_BUNDLE));
	g_ptr_array_add (none, checked ("downgrade", 0, MU_ERROR_DOWNGRADE));
	/* A success that names no commit is not trusted either. */
	nodetail = mu_queue_candidate_new ("empty", "empty", 1);
	mu_queue_candidate_set_result (nodetail, NULL, NULL);
	g_assert_error (nodetail->error, MU_ERROR, MU_ERROR_WORKER_FAILED);
	g_ptr_array_add (none, nodetail);
	/* Unchecked candidates are never chosen. */
	g_ptr_array_add (none, mu_queue_candidate_new ("unchecked", "unchecked", 1));
	g_assert_null (mu_queue_choose (none));
	/* The medium's result is the downgrade, not the foreign file. */
	g_assert_cmpstr (mu_queue_choose_failure (none)->name, ==, "downgrade");
	g_ptr_array_remove_range (none, 1, none->len - 1);
	g_assert_cmpstr (mu_queue_choose_failure (none)->name, ==, "foreign");
}

static guint warnings;

static GLogWriterOutput
count_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	if (level & G_LOG_LEVEL_WARNING)
		warnings++;
	return G_LOG_WRITER_HANDLED;
}

static void
test_state (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp ("mu-test-state-XXXXXX", &error);
	g_autofree gchar *state_dir = g_build_filename (dir, "sub", NULL);
	g_autofree gchar *file = g_build_filename (state_dir, "state", NULL);
	g_autoptr (MuDaemonState) empty = mu_daemon_state_load (state_dir);
	g_autoptr (MuDaemonState) s = mu_daemon_state_new ();
	g_autoptr (MuDaemonState) back = NULL;
	g_autoptr (MuDaemonState) damaged = NULL;
	g_autoptr (MuDaemonState) foreign = NULL;
	GStatBuf st;

	g_assert_no_error (error);
	g_assert_cmpstr (empty->error_name, ==, "");
	g_assert_null (empty->pending_commit);
	g_free (s->error_name);
	s->error_name = g_strdup ("org.mediaupd.Error.NoKey");
	g_free (s->message);
	s->message = g_strdup ("unlock: no key\nsecond line");
	s->time_us = 1234567;
	s->pending_commit = g_strdup ("abcdef");
	g_assert_true (mu_daemon_state_save (s, state_dir, &error));
	g_assert_no_error (error);
	g_assert_cmpint (g_stat (file, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 07777, ==, 0644);
	back = mu_daemon_state_load (state_dir);
	g_assert_cmpstr (back->error_name, ==, "org.mediaupd.Error.NoKey");
	g_assert_cmpstr (back->message, ==, "unlock: no key\nsecond line");
	g_assert_cmpint (back->time_us, ==, 1234567);
	g_assert_cmpstr (back->pending_commit, ==, "abcdef");
	g_assert_null (back->pending_version);

	/* A damaged file is an empty state, never a daemon that cannot start; a warning. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_writer_func (count_warnings, NULL, NULL);
	g_assert_true (g_file_set_contents (file, "[LastResult\nError=", -1, NULL));
	damaged = mu_daemon_state_load (state_dir);
	g_assert_cmpstr (damaged->error_name, ==, "");
	/* An error name that is not ours never reaches clients. */
	g_assert_true (g_file_set_contents (file,
					    "[LastResult]\nError=org.evil.Error.X\n"
					    "Message=m\n",
					    -1, NULL));
	foreign = mu_daemon_state_load (state_dir);
	g_assert_cmpstr (foreign->error_name, ==, "");
	g_assert_cmpuint (warnings, ==, 2);
	g_unlink (file);
	g_rmdir (state_dir);
	g_rmdir (dir);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/daemon-logic/proto-roundtrip", test_proto_roundtrip);
	g_test_add_func ("/daemon-logic/proto-long-message", test_proto_long_message);
	g_test_add_func ("/daemon-logic/proto-refused", test_proto_refused);
	g_test_add_func ("/daemon-logic/choose", test_choose);
	g_test_add_func ("/daemon-logic/state", test_state);
	return g_test_run ();
}
