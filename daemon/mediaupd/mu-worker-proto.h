/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a worker process tells the daemon, over a SOCK_SEQPACKET socket: one GVariant of
 * type (sv) per packet, at most MU_WORKER_MESSAGE_MAX bytes.
 *
 *   ("progress", <(phase s, percent u, bytes_done t, bytes_total t, items_done u, items_total u)>)
 *   ("result",   <(success b, error_name s, message s, details a{sv})>)
 *
 * The worker parses bytes from the medium, so the daemon treats whatever it sends as
 * untrusted: mu_worker_message_parse() accepts only normal-form variants of exactly these
 * types, known phase and error names, bounded strings (valid UTF-8) and arrays, and detail
 * keys from a fixed list with fixed types. Anything else is a protocol error and the
 * worker is killed.
 */

#include <glib.h>

#include "mu-progress.h"

G_BEGIN_DECLS

#define MU_WORKER_MESSAGE_MAX 65536
#define MU_WORKER_STRING_MAX 4096
#define MU_WORKER_ARRAY_MAX 64

typedef enum {
	MU_WORKER_MESSAGE_PROGRESS,
	MU_WORKER_MESSAGE_RESULT,
} MuWorkerMessageKind;

typedef struct {
	MuWorkerMessageKind kind;
	MuProgressState progress;
	GError *error;     /* result: NULL on success, else in MU_ERROR */
	GVariant *details; /* result: a{sv}, only the keys of the list */
} MuWorkerMessage;

void mu_worker_message_clear (MuWorkerMessage *message);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MuWorkerMessage, mu_worker_message_clear)

GBytes *mu_worker_message_new_progress (const MuProgressState *state);
/* @error: NULL on success; one outside MU_ERROR is sent as Failed. @details: a{sv} or NULL. */
GBytes *mu_worker_message_new_result (const GError *error, GVariant *details);

/* MU_ERROR_WORKER_FAILED, saying what was wrong, for anything but a message as above. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_worker_message_parse (GBytes *bytes, MuWorkerMessage *out_message, GError **error);

G_END_DECLS
