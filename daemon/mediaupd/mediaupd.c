/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mediaupd: the daemon. A udev rule starts mediaupd.service when a USB stick or SD card
 * appears; the daemon owns org.mediaupd.Manager1 on the system bus and installs the
 * bundles it finds on media, one at a time, each in a worker process of its own.
 *
 *   mediaupd [--config FILE]
 *
 * --config FILE    the configuration (default /etc/mediaupd/mediaupd.conf; a missing
 *                  default file gives the defaults). Strict: unknown groups or keys are
 *                  errors. The daemon's own groups:
 *                    [Media]  Source=udisks|none   where media come from: udisks2 on the
 *                             system bus, or none (the daemon then installs only what
 *                             ApplyBundle passes; the host tests run it so)
 *                    [Reboot] Policy=after-removal|immediate|never
 *                    [Boot]   Backend=none|uboot|grub, UBootEnvConfig=, GrubEnv=,
 *                             BootLimit=   the boot counter (docs/boot-counting.md)
 *                  and [Paths] StateDirectory= (the saved last result, pending
 *                  deployment, the blacklist of versions that failed to boot),
 *                  RuntimeDirectory= (the install lock, mount points).
 * --version        prints the version.
 *
 * Environment:
 *   DBUS_SYSTEM_BUS_ADDRESS   the "system bus" (GIO honours it): tests point the daemon
 *                             at a private dbus-daemon
 *   G_MESSAGES_DEBUG=all      debug lines (each worker command line among them)
 *   MEDIAUPD_TEST_PAUSE_AT=PHASE  builds with -Dtest_hooks=true only: each worker stops
 *                             itself (SIGSTOP) as it enters PHASE (discover, unlock,
 *                             verify, check, apply, deploy, finish)
 *
 * At start it takes the install lock (RuntimeDirectory/lock) for its whole life, so that
 * `mediaupdctl apply --local` is Busy while it runs, removes what a killed install left
 * (mounts, dm-crypt mappings, loop devices), exports the object, owns the name and tells
 * systemd READY=1. SIGTERM or SIGINT: at once when idle; during an install, the install
 * stops at its next safe point first (never during deploy), then the daemon exits 0.
 *
 * `mediaupd --worker MODE ...` is the worker process the daemon starts itself
 * (mu-worker-main.h); it is not for use by hand.
 */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "mu-config.h"
#include "mu-engine.h"
#include "mu-error.h"
#include "mu-lock.h"
#include "mu-log.h"
#include "mu-manager.h"
#include "mu-media-udisks.h"
#include "mu-worker-main.h"

typedef struct {
	GMainLoop *loop;
	MuManager *manager;
	GDBusConnection *bus;
	gboolean stopping;
	gboolean owned;
	int status;
} Daemon;

static gboolean stderr_is_journal;

/*
 * Everything goes to the journal as SYSLOG_IDENTIFIER=mediaupd, the message escaped (it
 * may quote names from a medium); warnings also to stderr unless that is the journal
 * already; everything to stderr where there is no journal (a test). Debug lines only when
 * G_MESSAGES_DEBUG asks for them.
 */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	g_auto (MuLogRecord) record = { 0 };
	GLogWriterOutput r;

	if (!mu_log_record_init (&record, level, fields, n_fields))
		return G_LOG_WRITER_HANDLED;
	r = g_log_writer_journald (level, record.fields, record.n_fields, user_data);
	if (r != G_LOG_WRITER_HANDLED ||
	    (!stderr_is_journal &&
	     (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))))
		return g_log_writer_standard_streams (level, record.fields, record.n_fields,
						      user_data);
	return G_LOG_WRITER_HANDLED;
}

static gboolean
on_stopped (gpointer data)
{
	Daemon *d = data;

	g_main_loop_quit (d->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer data)
{
	Daemon *d = data;

	if (d->stopping)
		return G_SOURCE_CONTINUE;
	d->stopping = TRUE;
	(void) sd_notify (0, "STOPPING=1");
	g_info ("stopping");
	mu_manager_stop (d->manager, on_stopped, d);
	return G_SOURCE_CONTINUE;
}

static void
on_name_acquired (GDBusConnection *bus, const gchar *name, gpointer user_data)
{
	Daemon *d = user_data;
	g_autoptr (GError) error = NULL;

	d->owned = TRUE;
	if (!mu_manager_watch_media (d->manager, &error)) {
		g_warning ("cannot watch for media: %s", error->message);
		d->status = 1;
		g_main_loop_quit (d->loop);
		return;
	}
	(void) sd_notify (0, "READY=1\nSTATUS=Waiting for an update medium");
	g_info ("ready on the bus as %s", name);
}

static void
on_name_lost (GDBusConnection *bus, const gchar *name, gpointer user_data)
{
	Daemon *d = user_data;

	d->status = 1;
	if (!d->owned) {
		g_warning ("cannot own the bus name %s: is another mediaupd running, and does "
			   "the bus policy allow it?",
			   name);
		g_main_loop_quit (d->loop);
		return;
	}
	/* An install under way still ends at a safe point, as for SIGTERM. */
	g_warning ("lost the bus name %s; stopping", name);
	if (!d->stopping) {
		d->stopping = TRUE;
		mu_manager_stop (d->manager, on_stopped, d);
	}
}

/* NULL for Source=none. */
static MuMediaSource *
make_source (const MuConfig *config, GDBusConnection *bus)
{
	if (g_str_equal (config->media_source, "none"))
		return NULL;
	return mu_media_udisks_new (bus);
}

static int
run_daemon (const gchar *config_path)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = NULL;
	g_autoptr (MuLock) lock = NULL;
	g_autoptr (MuMediaSource) source = NULL;
	g_autoptr (MuManager) manager = NULL;
	g_autoptr (GDBusConnection) bus = NULL;
	Daemon d = { 0 };
	guint sources[2];
	guint owner;

	config = mu_config_new_from_file (config_path != NULL ? config_path
							      : MU_CONFIG_DEFAULT_PATH,
					  config_path == NULL, &error);
	if (config == NULL) {
		g_printerr ("mediaupd: configuration: %s\n", error->message);
		return 2;
	}
	/* Held for the daemon's life: no `mediaupdctl apply --local` beside it. */
	lock = mu_lock_acquire (config->runtime_dir, &error);
	if (lock == NULL) {
		g_warning ("cannot start: %s", error->message);
		return 1;
	}
	mu_engine_cleanup_stale (config);
	mu_error_register_dbus ();
	bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
	if (bus == NULL) {
		g_warning ("cannot connect to the system bus: %s", error->message);
		return 1;
	}
	g_dbus_connection_set_exit_on_close (bus, FALSE);
	source = make_source (config, bus);
	manager = mu_manager_new (config, config_path, bus, source);
	if (!mu_manager_start (manager, &error)) {
		g_warning ("cannot export %s: %s", MU_MANAGER_OBJECT_PATH, error->message);
		return 1;
	}
	d.loop = g_main_loop_new (NULL, FALSE);
	d.manager = manager;
	d.bus = bus;
	sources[0] = g_unix_signal_add (SIGTERM, on_signal, &d);
	sources[1] = g_unix_signal_add (SIGINT, on_signal, &d);
	owner = g_bus_own_name_on_connection (bus, MU_MANAGER_BUS_NAME,
					      G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, on_name_acquired,
					      on_name_lost, &d, NULL);
	g_main_loop_run (d.loop);
	(void) sd_notify (0, "STOPPING=1");
	g_bus_unown_name (owner);
	for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
		g_source_remove (sources[i]);
	g_clear_pointer (&manager, mu_manager_free);
	(void) g_dbus_connection_flush_sync (bus, NULL, NULL);
	g_main_loop_unref (d.loop);
	return d.status;
}

int
main (int argc, char **argv)
{
	g_autofree gchar *config_path = NULL;
	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Read this configuration instead of " MU_CONFIG_DEFAULT_PATH, "FILE" },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
		{ NULL },
	};
	g_autoptr (GOptionContext) ctx = g_option_context_new ("- the mediaupd daemon");
	g_autoptr (GError) error = NULL;

	setlocale (LC_ALL, "");
	stderr_is_journal = g_log_writer_is_journald (fileno (stderr));
	g_log_set_writer_func (log_writer, NULL, NULL);
	/* The worker is this same program, started by the daemon with --worker. */
	for (int i = 1; i < argc; i++) {
		if (g_str_has_prefix (argv[i], "--worker"))
			return mu_worker_main (argc, argv);
	}
	g_option_context_add_main_entries (ctx, entries, NULL);
	if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1) {
		g_printerr ("mediaupd: %s\nUsage: mediaupd [--config FILE]\n",
			    error != NULL ? error->message : "no arguments expected");
		return 2;
	}
	if (version) {
		g_print ("mediaupd %s%s\n", PACKAGE_VERSION,
			 MEDIAUPD_TEST_HOOKS ? " (test hooks: not for a product)" : "");
		return 0;
	}
	/* SIGPIPE from a client that went away must not end the daemon. */
	signal (SIGPIPE, SIG_IGN);
	return run_daemon (config_path);
}
