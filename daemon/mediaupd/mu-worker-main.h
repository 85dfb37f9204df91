/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The worker side: `mediaupd --worker MODE ...`, started by the daemon only (mu-worker.h).
 * MODE is install, check or inspect; the bundle is the descriptor --bundle-fd (from a
 * D-Bus client) or the file --path (on a medium the daemon mounted). It makes a mount
 * namespace of its own, runs the engine and sends progress and the result over the
 * socket --socket-fd (mu-worker-proto.h). SIGTERM stops it at the next safe point; it
 * also gets SIGTERM when the daemon dies. Returns the exit status: 0 when a result was
 * sent, whatever it says.
 */
int mu_worker_main (int argc, char **argv);

G_END_DECLS
