/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib.h>

#include "mu-error.h"
#include "mu-policy.h"

#define BOOTED "1111111111111111111111111111111111111111111111111111111111111111"
#define NEWER "2222222222222222222222222222222222222222222222222222222222222222"
#define PENDING "3333333333333333333333333333333333333333333333333333333333333333"
#define MIB (G_GUINT64_CONSTANT (1024) * 1024)

/* Each case below starts from a good update and overrides the one field it tests. */
#pragma GCC diagnostic ignored "-Woverride-init"

static const gchar *const this_ref[] = { "testos/x86_64/main", NULL };
static const gchar *const two_refs[] = { "other/ref", "testos/x86_64/main", NULL };
static const gchar *const other_ref[] = { "otheros/x86_64/main", NULL };
static const gchar *const no_refs[] = { NULL };
static const gchar *const other_twice[] = { "otheros/x86_64/main", "otheros/x86_64/main", NULL };

typedef enum {
	SYSTEM_PLAIN,    /* booted 2.0, no pending deployment */
	SYSTEM_PENDING,  /* booted 2.0, 2.5 installed for the next boot */
	SYSTEM_NO_OS_ID, /* booted 2.0, its os-release has no ID */
	SYSTEM_STRICT,   /* booted 2.0, [Update] RequireBindings=true */
} SystemKind;

typedef struct {
	const gchar *name;
	MuPolicyUpdate update;
	gboolean allow_downgrade;
	guint64 free_bytes;
	gint expected; /* -1: accepted, else an MuErrorCode */
	SystemKind system;
} PolicyCase;

static void
test_policy_table (void)
{
	const MuPolicySystem plain = {
		.commit = BOOTED,
		.origin_ref = "testos/x86_64/main",
		.collection_id = "org.example.TestOS",
		.timestamp = 1000000,
		.version = "2.0",
		.os_id = "testos",
	};
	MuPolicySystem pending = plain;
	MuPolicySystem no_os_id = plain;

	pending.pending_commit = PENDING;
	pending.pending_timestamp = 1500000;
	pending.pending_version = "2.5";
	no_os_id.os_id = NULL;
	/* A good update; each case changes one thing. */
	/* clang-format off */
#define GOOD .to_commit = NEWER, .from_commit = BOOTED, .from_present = TRUE, \
	     .timestamp = 2000000, .version = "2.1", .needed_bytes = 100 * MIB
	const PolicyCase cases[] = {
		{ "good delta", { GOOD }, FALSE, 1024 * MIB, -1 },
		{ "good full", { GOOD, .from_commit = NULL, .from_present = FALSE }, FALSE,
		  1024 * MIB, -1 },
		{ "ref binding matches", { GOOD, .ref_bindings = this_ref }, FALSE, 1024 * MIB, -1 },
		{ "one of several refs", { GOOD, .ref_bindings = two_refs }, FALSE, 1024 * MIB, -1 },
		{ "other OS ref", { GOOD, .ref_bindings = other_ref }, FALSE, 1024 * MIB,
		  MU_ERROR_WRONG_OS },
		{ "empty ref binding", { GOOD, .ref_bindings = no_refs }, FALSE, 1024 * MIB,
		  MU_ERROR_WRONG_OS },
		{ "collection matches", { GOOD, .collection_binding = "org.example.TestOS" }, FALSE,
		  1024 * MIB, -1 },
		{ "other collection", { GOOD, .collection_binding = "org.example.Other" }, FALSE,
		  1024 * MIB, MU_ERROR_WRONG_OS },
		{ "same commit", { GOOD, .to_commit = BOOTED }, FALSE, 1024 * MIB,
		  MU_ERROR_ALREADY_INSTALLED },
		{ "older timestamp", { GOOD, .timestamp = 999999 }, FALSE, 1024 * MIB,
		  MU_ERROR_DOWNGRADE },
		{ "older version", { GOOD, .version = "1.9" }, FALSE, 1024 * MIB,
		  MU_ERROR_DOWNGRADE },
		{ "older version, numeric", { GOOD, .version = "2.0" }, FALSE, 1024 * MIB, -1 },
		{ "no version on update", { GOOD, .version = NULL }, FALSE, 1024 * MIB, -1 },
		{ "downgrade allowed", { GOOD, .timestamp = 1, .version = "0.1" }, TRUE,
		  1024 * MIB, -1 },
		{ "from missing", { GOOD, .from_present = FALSE }, FALSE, 1024 * MIB,
		  MU_ERROR_MISSING_FROM_COMMIT },
		{ "no space", { GOOD }, FALSE, 150 * MIB, MU_ERROR_NO_SPACE },
		{ "exactly enough", { GOOD }, FALSE, 164 * MIB, -1 },
		{ "overflow", { GOOD, .needed_bytes = G_MAXUINT64 }, FALSE, G_MAXUINT64,
		  MU_ERROR_NO_SPACE },
		/* The order is part of the contract: the most fundamental mismatch is reported. */
		{ "wrong OS beats downgrade", { GOOD, .ref_bindings = other_ref, .timestamp = 1 },
		  FALSE, 0, MU_ERROR_WRONG_OS },
		{ "downgrade beats space", { GOOD, .timestamp = 1 }, FALSE, 0, MU_ERROR_DOWNGRADE },
		/* No binding: accepted here, the tree's os-release decides after the apply. */
		{ "unbound", { GOOD }, FALSE, 1024 * MIB, -1, SYSTEM_PLAIN },
		{ "unbound, bindings required", { GOOD }, FALSE, 1024 * MIB, MU_ERROR_WRONG_OS,
		  SYSTEM_STRICT },
		{ "bound, bindings required", { GOOD, .ref_bindings = this_ref }, FALSE, 1024 * MIB,
		  -1, SYSTEM_STRICT },
		{ "collection only, bindings required",
		  { GOOD, .collection_binding = "org.example.TestOS" }, FALSE, 1024 * MIB, -1,
		  SYSTEM_STRICT },
		{ "unbound, no OS ID here", { GOOD }, FALSE, 1024 * MIB, MU_ERROR_WRONG_OS,
		  SYSTEM_NO_OS_ID },
		{ "bound, no OS ID here", { GOOD, .ref_bindings = this_ref }, FALSE, 1024 * MIB, -1,
		  SYSTEM_NO_OS_ID },
		/* Against the newest of the booted and the pending deployment. */
		{ "newer than pending", { GOOD, .version = "2.6" }, FALSE, 1024 * MIB, -1,
		  SYSTEM_PENDING },
		{ "the pending commit", { GOOD, .to_commit = PENDING, .version = "2.5" }, FALSE,
		  1024 * MIB, MU_ERROR_ALREADY_INSTALLED, SYSTEM_PENDING },
		{ "pending commit beats downgrade", { GOOD, .to_commit = PENDING, .timestamp = 1 },
		  TRUE, 1024 * MIB, MU_ERROR_ALREADY_INSTALLED, SYSTEM_PENDING },
		{ "the booted commit with pending", { GOOD, .to_commit = BOOTED }, FALSE, 1024 * MIB,
		  MU_ERROR_ALREADY_INSTALLED, SYSTEM_PENDING },
		{ "older than pending, newer than booted",
		  { GOOD, .timestamp = 1200000, .version = "2.1" }, FALSE, 1024 * MIB,
		  MU_ERROR_DOWNGRADE, SYSTEM_PENDING },
		{ "built after pending, lower version",
		  { GOOD, .timestamp = 2000000, .version = "2.4" }, FALSE, 1024 * MIB,
		  MU_ERROR_DOWNGRADE, SYSTEM_PENDING },
		{ "same timestamp and version as pending, other commit",
		  { GOOD, .timestamp = 1500000, .version = "2.5" }, FALSE, 1024 * MIB, -1,
		  SYSTEM_PENDING },
		{ "older than pending, allowed", { GOOD, .timestamp = 1200000, .version = "2.1" },
		  TRUE, 1024 * MIB, -1, SYSTEM_PENDING },
		{ "older than pending, no version", { GOOD, .timestamp = 1499999, .version = NULL },
		  FALSE, 1024 * MIB, MU_ERROR_DOWNGRADE, SYSTEM_PENDING },
	};
#undef GOOD
	/* clang-format on */

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		const MuPolicyLimits limits = {
			.allow_downgrade = cases[i].allow_downgrade,
			.require_bindings = cases[i].system == SYSTEM_STRICT,
			.free_bytes = cases[i].free_bytes,
			.margin_bytes = 64 * MIB,
		};
		const MuPolicySystem *system = cases[i].system == SYSTEM_PENDING    ? &pending
					       : cases[i].system == SYSTEM_NO_OS_ID ? &no_os_id
										    : &plain;
		g_autoptr (GError) error = NULL;
		gboolean ok = mu_policy_check (system, &cases[i].update, &limits, &error);

		g_test_message ("case: %s", cases[i].name);
		if (cases[i].expected < 0) {
			g_assert_no_error (error);
			g_assert_true (ok);
		} else {
			g_assert_false (ok);
			g_assert_error (error, MU_ERROR, cases[i].expected);
			g_assert_cmpuint (strlen (error->message), >, 20);
			g_test_message ("refused: %s", error->message);
		}
	}
}

/* A refusal says which deployment the update is older than, and what to do. */
static void
test_policy_messages (void)
{
	const MuPolicySystem system = {
		.commit = BOOTED,
		.timestamp = 1000000,
		.version = "2.0",
		.os_id = "testos",
		.pending_commit = PENDING,
		.pending_timestamp = 1500000,
		.pending_version = "2.5",
	};
	const MuPolicyLimits limits = { .free_bytes = G_MAXUINT64 };
	const MuPolicyLimits strict = { .free_bytes = G_MAXUINT64, .require_bindings = TRUE };
	const MuPolicyUpdate between = { .to_commit = NEWER, .timestamp = 1200000 };
	const MuPolicyUpdate again = { .to_commit = PENDING, .timestamp = 1500000 };
	const MuPolicyUpdate unbound = { .to_commit = NEWER, .timestamp = 2000000 };
	g_autoptr (GError) error = NULL;

	g_assert_false (mu_policy_check (&system, &between, &limits, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_DOWNGRADE);
	g_assert_cmpstr (error->message, ==,
			 "the update (built 1970-01-14T21:20:00Z) is older than the update "
			 "already installed for the next boot (built 1970-01-18T08:40:00Z); use "
			 "a newer bundle");
	g_clear_error (&error);
	g_assert_false (mu_policy_check (&system, &again, &limits, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_ALREADY_INSTALLED);
	g_assert_cmpstr (error->message, ==,
			 "commit " PENDING " is already installed and starts at the next boot; "
			 "restart the device to use it");
	g_clear_error (&error);
	g_assert_false (mu_policy_check (&system, &unbound, &strict, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_WRONG_OS);
	g_assert_nonnull (strstr (error->message, "RequireBindings=true"));
	g_assert_nonnull (strstr (error->message, "--bind-ref"));
}

/* After the apply, an unbound commit's tree names this device's OS, and its variant
 * when this device has one. */
static void
test_policy_tree_os (void)
{
	const struct {
		const gchar *name;
		const gchar *system_id, *system_variant;
		const gchar *tree_id, *tree_variant;
		gboolean accepted;
	} cases[] = {
		{ "same ID", "testos", NULL, "testos", NULL, TRUE },
		{ "same ID, tree has a variant", "testos", NULL, "testos", "kiosk", TRUE },
		{ "other ID", "testos", NULL, "otheros", NULL, FALSE },
		{ "ID differs in case only", "testos", NULL, "TestOS", NULL, FALSE },
		{ "tree has no ID", "testos", NULL, NULL, NULL, FALSE },
		{ "same variant", "testos", "kiosk", "testos", "kiosk", TRUE },
		{ "other variant", "testos", "kiosk", "testos", "server", FALSE },
		{ "tree has no variant", "testos", "kiosk", "testos", NULL, FALSE },
		{ "same variant, other ID", "testos", "kiosk", "otheros", "kiosk", FALSE },
		{ "no ID here", NULL, NULL, "testos", NULL, FALSE },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		const MuPolicySystem system = {
			.commit = BOOTED,
			.os_id = cases[i].system_id,
			.os_variant_id = cases[i].system_variant,
		};
		const MuOsRelease tree = {
			.id = (gchar *) cases[i].tree_id,
			.variant_id = (gchar *) cases[i].tree_variant,
		};
		g_autoptr (GError) error = NULL;
		gboolean ok = mu_policy_check_tree_os (&system, &tree, &error);

		g_test_message ("case: %s", cases[i].name);
		if (cases[i].accepted) {
			g_assert_no_error (error);
			g_assert_true (ok);
		} else {
			g_assert_false (ok);
			g_assert_error (error, MU_ERROR, MU_ERROR_WRONG_OS);
			g_test_message ("refused: %s", error->message);
		}
	}
}

static void
test_version_compare (void)
{
	const struct {
		const gchar *a, *b;
		gint expected;
	} cases[] = {
		/* clang-format off */
		{ "1.0", "1.0", 0 },       { "1.10", "1.9", 1 },   { "1.9", "1.10", -1 },
		{ "v2026.2", "v2026.1", 1 }, { "2", "10", -1 },   { "1.0", "1.0.1", -1 },
		{ "01", "1", 0 },          { "1.0a", "1.0b", -1 }, { "", "", 0 },
		{ "", "1", -1 },           { "2026.11.3", "2026.2.14", 1 },
		/* clang-format on */
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_test_message ("%s vs %s", cases[i].a, cases[i].b);
		g_assert_cmpint (mu_version_compare (cases[i].a, cases[i].b), ==,
				 cases[i].expected);
		g_assert_cmpint (mu_version_compare (cases[i].b, cases[i].a), ==,
				 -cases[i].expected);
	}
}

/* The refusal names each foreign ref once, and this device's ref. */
static void
test_policy_wrong_os_message (void)
{
	const MuPolicySystem system = { .commit = BOOTED, .origin_ref = "testos/x86_64/main" };
	const MuPolicyUpdate update = { .to_commit = NEWER, .ref_bindings = other_twice };
	const MuPolicyLimits limits = { .free_bytes = G_MAXUINT64 };
	g_autoptr (GError) error = NULL;

	g_assert_false (mu_policy_check (&system, &update, &limits, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_WRONG_OS);
	g_assert_cmpstr (error->message, ==,
			 "the update is for 'otheros/x86_64/main', this device runs "
			 "'testos/x86_64/main'; use a bundle made for this device's OS");
}

/* A commit that failed to boot here is refused first, whatever else holds for it. */
static void
test_policy_blacklist (void)
{
	const MuPolicySystem system = { .commit = BOOTED,
					.origin_ref = "testos/x86_64/main",
					.timestamp = 1000,
					.version = "2.0",
					.os_id = "testos" };
	const gchar *const listed[] = { PENDING, NEWER, NULL };
	const gchar *const others[] = { PENDING, NULL };
	const MuPolicyLimits limits = { .free_bytes = G_MAXUINT64, .blacklist = listed };
	const MuPolicyLimits lenient = { .free_bytes = G_MAXUINT64,
					 .allow_downgrade = TRUE,
					 .blacklist = listed };
	const MuPolicyLimits not_listed = { .free_bytes = G_MAXUINT64, .blacklist = others };
	const MuPolicyUpdate good = { .to_commit = NEWER,
				      .timestamp = 2000,
				      .version = "4",
				      .ref_bindings = this_ref };
	const MuPolicyUpdate wrong_os = { .to_commit = NEWER,
					  .timestamp = 2000,
					  .ref_bindings = other_ref };
	g_autoptr (GError) error = NULL;

	g_assert_false (mu_policy_check (&system, &good, &limits, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_BLACKLISTED);
	g_assert_cmpstr (error->message, ==,
			 "commit " NEWER " (version 4) failed to boot on this device before and "
			 "was rolled back; use a newer bundle, or allow it again with "
			 "'mediaupdctl clear-blacklist " NEWER "'");
	g_clear_error (&error);
	/* Allowing downgrades does not allow a failed version. */
	g_assert_false (mu_policy_check (&system, &good, &lenient, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_BLACKLISTED);
	g_clear_error (&error);
	/* Checked before the OS: the device says it knows this one, not that it is foreign. */
	g_assert_false (mu_policy_check (&system, &wrong_os, &limits, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_BLACKLISTED);
	g_clear_error (&error);
	/* Another listed commit, or no list, leave the update acceptable. */
	g_assert_true (mu_policy_check (&system, &good, &not_listed, &error));
	g_assert_no_error (error);
	g_assert_true (mu_policy_check (&system, &good,
					&(MuPolicyLimits){ .free_bytes = G_MAXUINT64 }, &error));
	g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/policy/table", test_policy_table);
	g_test_add_func ("/policy/version-compare", test_version_compare);
	g_test_add_func ("/policy/wrong-os-message", test_policy_wrong_os_message);
	g_test_add_func ("/policy/messages", test_policy_messages);
	g_test_add_func ("/policy/tree-os", test_policy_tree_os);
	g_test_add_func ("/policy/blacklist", test_policy_blacklist);
	return g_test_run ();
}
