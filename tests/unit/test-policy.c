/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib.h>

#include "mu-error.h"
#include "mu-policy.h"

#define BOOTED "1111111111111111111111111111111111111111111111111111111111111111"
#define NEWER "2222222222222222222222222222222222222222222222222222222222222222"
#define MIB (G_GUINT64_CONSTANT (1024) * 1024)

/* Each case below starts from a good update and overrides the one field it tests. */
#pragma GCC diagnostic ignored "-Woverride-init"

static const gchar *const this_ref[] = { "testos/x86_64/main", NULL };
static const gchar *const two_refs[] = { "other/ref", "testos/x86_64/main", NULL };
static const gchar *const other_ref[] = { "otheros/x86_64/main", NULL };
static const gchar *const no_refs[] = { NULL };
static const gchar *const other_twice[] = { "otheros/x86_64/main", "otheros/x86_64/main", NULL };

typedef struct {
	const gchar *name;
	MuPolicyUpdate update;
	gboolean allow_downgrade;
	guint64 free_bytes;
	gint expected; /* -1: accepted, else an MuErrorCode */
} PolicyCase;

static void
test_policy_table (void)
{
	const MuPolicySystem system = {
		.commit = BOOTED,
		.origin_ref = "testos/x86_64/main",
		.collection_id = "org.example.TestOS",
		.timestamp = 1000000,
		.version = "2.0",
	};
	/* A good update; each case changes one thing. */
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
	};
#undef GOOD

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		const MuPolicyLimits limits = {
			.allow_downgrade = cases[i].allow_downgrade,
			.free_bytes = cases[i].free_bytes,
			.margin_bytes = 64 * MIB,
		};
		g_autoptr (GError) error = NULL;
		gboolean ok = mu_policy_check (&system, &cases[i].update, &limits, &error);

		g_test_message ("case: %s", cases[i].name);
		if (cases[i].expected < 0) {
			g_assert_no_error (error);
			g_assert_true (ok);
		} else {
			g_assert_false (ok);
			g_assert_error (error, MU_ERROR, cases[i].expected);
			g_assert_cmpuint (strlen (error->message), >, 20);
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
		{ "1.0", "1.0", 0 },       { "1.10", "1.9", 1 },   { "1.9", "1.10", -1 },
		{ "v2026.2", "v2026.1", 1 }, { "2", "10", -1 },   { "1.0", "1.0.1", -1 },
		{ "01", "1", 0 },          { "1.0a", "1.0b", -1 }, { "", "", 0 },
		{ "", "1", -1 },           { "2026.11.3", "2026.2.14", 1 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_test_message ("%s vs %s", cases[i].a, cases[i].b);
		g_assert_cmpint (mu_version_compare (cases[i].a, cases[i].b), ==, cases[i].expected);
		g_assert_cmpint (mu_version_compare (cases[i].b, cases[i].a), ==, -cases[i].expected);
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

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/policy/table", test_policy_table);
	g_test_add_func ("/policy/version-compare", test_version_compare);
	g_test_add_func ("/policy/wrong-os-message", test_policy_wrong_os_message);
	return g_test_run ();
}
