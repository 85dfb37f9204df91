/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mediaupd-bundle: keys, signatures and bundles for mediaupd, on the CI side and for
 * people. This file only dispatches; each subcommand lives in daemon/mu-tool-NAME.c.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include "mu-tool.h"

/* One line per subcommand, in the order --help lists them. */
static const MuToolCommand commands[] = {
	{ "keygen", mu_tool_cmd_keygen, "Make an ed25519 signing key pair or a random LUKS key" },
	{ "sign", mu_tool_cmd_sign, "Wrap a static-delta superblock in a signed envelope" },
	{ "verify", mu_tool_cmd_verify, "Check a signed superblock against trusted keys" },
	{ "inspect", mu_tool_cmd_inspect, "Show a bundle's header; check a key against it" },
	{ "create", mu_tool_cmd_create, "Build an encrypted update bundle (format v2)" },
	{ "rekey", mu_tool_cmd_rekey, "Add or remove a bundle's keys with one existing key" },
	/* Further subcommands go here. */
};

static void
print_usage (FILE *out)
{
	fprintf (out, "Usage:\n"
		      "  mediaupd-bundle COMMAND [OPTION…] [ARGUMENT…]\n"
		      "\n"
		      "Commands:\n");
	for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
		fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf (
		out,
		"\n"
		"'mediaupd-bundle COMMAND --help' describes a command.\n"
		"Secrets are only ever read from files, never from the command line.\n"
		"Exit status: 0 success, 1 failure or refusal (reason on stderr), 2 usage error.\n");
}

int
main (int argc, char **argv)
{
	const gchar *name;

	setlocale (LC_ALL, "");
	g_set_prgname ("mediaupd-bundle");

	if (argc < 2) {
		print_usage (stderr);
		return MU_TOOL_EXIT_USAGE;
	}
	name = argv[1];
	if (g_str_equal (name, "--help") || g_str_equal (name, "-h") ||
	    g_str_equal (name, "help")) {
		print_usage (stdout);
		return MU_TOOL_EXIT_OK;
	}
	if (g_str_equal (name, "--version")) {
		g_print ("mediaupd-bundle %s\n", PACKAGE_VERSION);
		return MU_TOOL_EXIT_OK;
	}
	for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
		if (g_str_equal (name, commands[i].name)) {
			g_autofree gchar *prgname = g_strconcat ("mediaupd-bundle ", name, NULL);

			g_set_prgname (prgname);
			return commands[i].func (argc - 1, argv + 1);
		}
	}
	g_printerr ("mediaupd-bundle: unknown command '%s'\n\n", name);
	print_usage (stderr);
	return MU_TOOL_EXIT_USAGE;
}
