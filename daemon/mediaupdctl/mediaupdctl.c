/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mediaupdctl: the command line of mediaupd. A client of the daemon's D-Bus API
 * (mu-ctl-client.c, mu-ctl-apply.c, mu-ctl-watch.c), except `apply --local FILE`, which runs
 * the engine in this process (mu-ctl-local.c).
 */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>

#include "mu-ctl.h"
#include "mu-escape.h"

typedef struct {
	const gchar *name;
	int (*run) (int argc, char **argv);
	const gchar *summary;
} Command;

static const Command commands[] = {
	{ "status", mu_ctl_cmd_status, "what the daemon is doing, versions, last error" },
	{ "apply", mu_ctl_cmd_apply, "install a bundle through the daemon (--local: without it)" },
	{ "inspect", mu_ctl_cmd_inspect, "what a bundle's header says, and which keys open it" },
	{ "watch", mu_ctl_cmd_watch, "follow the daemon (--agent: and hold back its reboots)" },
	{ "cancel", mu_ctl_cmd_cancel, "stop the running install at its next safe point" },
	{ "mark-good", mu_ctl_cmd_mark_good, "record that the booted version works" },
	{ "clear-blacklist", mu_ctl_cmd_clear_blacklist,
	  "accept a version again that failed to boot" },
	{ "keys", mu_ctl_cmd_keys, "list the device keys, seal plain ones (locally, as root)" },
};

static void
print_usage (FILE *stream)
{
	fprintf (stream, "Usage: mediaupdctl COMMAND [OPTIONS]\n\nCommands:\n");
	for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
		fprintf (stream, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf (stream,
		 "\n'mediaupdctl COMMAND --help' describes each command. Every command takes\n"
		 "--json: one JSON object per line on stdout instead of text.\n"
		 "The daemon is reached on the system bus (DBUS_SYSTEM_BUS_ADDRESS); only root\n"
		 "may call it, anyone may read its status.\n\n%s",
		 MU_CTL_EXIT_HELP);
}

int
main (int argc, char **argv)
{
	setlocale (LC_ALL, "");
	/* A closed stdout is seen as EPIPE by mu_ctl_out_printf(), not as a fatal signal. */
	signal (SIGPIPE, SIG_IGN);
	if (argc >= 2 && g_str_equal (argv[1], "--version")) {
		g_print ("mediaupdctl %s%s\n", PACKAGE_VERSION,
			 MEDIAUPD_TEST_HOOKS ? " (test hooks: not for a product)" : "");
		return MU_CTL_EXIT_OK;
	}
	if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
			  g_str_equal (argv[1], "help"))) {
		print_usage (stdout);
		return MU_CTL_EXIT_OK;
	}
	for (gsize i = 0; argc >= 2 && i < G_N_ELEMENTS (commands); i++) {
		if (g_str_equal (argv[1], commands[i].name))
			return commands[i].run (argc - 1, argv + 1);
	}
	if (argc >= 2) {
		g_autofree gchar *name = mu_escape_untrusted (argv[1]);

		fprintf (stderr, "Unknown command '%s'.\n", name);
	}
	print_usage (stderr);
	return MU_CTL_EXIT_USAGE;
}
