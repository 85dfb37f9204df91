/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a worker process sends the daemon (the worker parses the stick, so the daemon
 * trusts none of it): mu_worker_message_parse(). A message it accepts, made again with
 * the worker's own encoders, must be accepted again and mean the same.
 */
#include "config.h"

#include "fuzz-common.h"
#include "mu-error.h"
#include "mu-worker-proto.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GBytes) again = NULL;
	g_autoptr (GError) error = NULL;
	g_auto (MuWorkerMessage) message = { 0 };
	g_auto (MuWorkerMessage) reparsed = { 0 };

	if (!mu_worker_message_parse (bytes, &message, &error)) {
		g_assert_nonnull (error);
		return 0;
	}
	if (message.kind == MU_WORKER_MESSAGE_PROGRESS)
		again = mu_worker_message_new_progress (&message.progress);
	else
		again = mu_worker_message_new_result (message.error, message.details);
	if (!mu_worker_message_parse (again, &reparsed, &error))
		g_error ("a message re-encoded does not parse: %s", error->message);
	g_assert_cmpint (reparsed.kind, ==, message.kind);
	if (message.kind == MU_WORKER_MESSAGE_PROGRESS) {
		g_assert_cmpint (reparsed.progress.phase, ==, message.progress.phase);
		g_assert_cmpuint (reparsed.progress.bytes_done, ==, message.progress.bytes_done);
	} else if (message.error != NULL) {
		g_assert_error (reparsed.error, message.error->domain, message.error->code);
		g_assert_cmpstr (reparsed.error->message, ==, message.error->message);
	} else {
		g_assert_null (reparsed.error);
	}
	return 0;
}
