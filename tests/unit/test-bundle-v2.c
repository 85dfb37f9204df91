/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mu-bundle-v2.h"
#include "mu-error.h"

#define BOOTED "1111111111111111111111111111111111111111111111111111111111111111"
#define NEWER "2222222222222222222222222222222222222222222222222222222222222222"
#define OTHER "4444444444444444444444444444444444444444444444444444444444444444"

/* The update part of a signed header, as the bundle maker copies it from the commit. */
static MuSignedHeader *
header_new (void)
{
	MuSignedHeader *h = g_new0 (MuSignedHeader, 1);
	const gchar *refs[] = { "testos/x86_64/main", NULL };

	h->format = 2;
	h->cipher = g_strdup ("aes-xts-plain64");
	h->digest_type = g_strdup ("pbkdf2");
	h->digest_hash = g_strdup ("sha256");
	h->verity_hash = g_strdup ("sha256");
	h->os_id = g_strdup ("testos");
	h->os_variant_id = g_strdup ("");
	h->ref = g_strdup ("testos/x86_64/main");
	h->collection_binding = g_strdup ("");
	h->ref_bindings = g_strdupv ((GStrv) refs);
	h->to_commit = g_strdup (NEWER);
	h->from_commit = g_strdup (BOOTED);
	h->version = g_strdup ("2.1");
	h->timestamp = 2000000;
	h->total_compressed = 1000;
	h->total_uncompressed = 5000;
	return h;
}

/* What the verified delta superblock says of the same update. */
static MuDeltaInfo *
info_new (void)
{
	MuDeltaInfo *info = g_new0 (MuDeltaInfo, 1);
	const gchar *refs[] = { "testos/x86_64/main", NULL };

	info->to_commit = g_strdup (NEWER);
	info->from_commit = g_strdup (BOOTED);
	info->version = g_strdup ("2.1");
	info->timestamp = 2000000;
	info->ref_bindings = g_strdupv ((GStrv) refs);
	info->total_compressed = 1000;
	info->total_uncompressed = 5000;
	return info;
}

static void
replace (gchar **field, const gchar *value)
{
	g_free (*field);
	*field = g_strdup (value);
}

static void
replace_strv (GStrv *field, const gchar *const *value)
{
	g_strfreev (*field);
	*field = value != NULL ? g_strdupv ((GStrv) value) : NULL;
}

typedef enum {
	EDIT_NONE,
	EDIT_TO,
	EDIT_FROM,
	EDIT_FULL_IN_DELTA, /* the delta is a full one, the header names a from-commit */
	EDIT_TIMESTAMP,
	EDIT_VERSION,
	EDIT_NO_VERSION_IN_DELTA,
	EDIT_COLLECTION,
	EDIT_REFS,
	EDIT_NO_REFS_IN_DELTA,
	EDIT_COMPRESSED,
	EDIT_UNCOMPRESSED,
	EDIT_FULL_BOTH,      /* both full: "" in the header is NULL in the delta */
	EDIT_NONE_BOTH,      /* no version, no bindings in either */
	EDIT_COLLECTION_BOTH /* the same collection binding in both */
} Edit;

static void
apply_edit (Edit edit, MuSignedHeader *h, MuDeltaInfo *info)
{
	const gchar *other_refs[] = { "otheros/x86_64/main", NULL };
	const gchar *more_refs[] = { "testos/x86_64/main", "testos/x86_64/devel", NULL };
	const gchar *no_refs[] = { NULL };

	switch (edit) {
	case EDIT_NONE:
		break;
	case EDIT_TO:
		replace (&info->to_commit, OTHER);
		break;
	case EDIT_FROM:
		replace (&info->from_commit, OTHER);
		break;
	case EDIT_FULL_IN_DELTA:
		g_clear_pointer (&info->from_commit, g_free);
		break;
	case EDIT_TIMESTAMP:
		info->timestamp++;
		break;
	case EDIT_VERSION:
		replace (&info->version, "2.0");
		break;
	case EDIT_NO_VERSION_IN_DELTA:
		g_clear_pointer (&info->version, g_free);
		break;
	case EDIT_COLLECTION:
		replace (&info->collection_binding, "org.example.Other");
		break;
	case EDIT_REFS:
		replace_strv (&info->ref_bindings, other_refs);
		replace_strv (&h->ref_bindings, more_refs);
		break;
	case EDIT_NO_REFS_IN_DELTA:
		replace_strv (&info->ref_bindings, NULL);
		break;
	case EDIT_COMPRESSED:
		info->total_compressed = 999;
		break;
	case EDIT_UNCOMPRESSED:
		info->total_uncompressed = 5001;
		break;
	case EDIT_FULL_BOTH:
		replace (&h->from_commit, "");
		g_clear_pointer (&info->from_commit, g_free);
		break;
	case EDIT_NONE_BOTH:
		replace (&h->version, "");
		g_clear_pointer (&info->version, g_free);
		replace_strv (&h->ref_bindings, no_refs);
		replace_strv (&info->ref_bindings, NULL);
		break;
	case EDIT_COLLECTION_BOTH:
		replace (&h->collection_binding, "org.example.TestOS");
		replace (&info->collection_binding, "org.example.TestOS");
		break;
	default:
		g_assert_not_reached ();
	}
}

/* The delta found inside must describe the update the signed header promised. */
static void
test_check_delta (void)
{
	static const struct {
		Edit edit;
		const gchar *differs; /* NULL: accepted */
	} cases[] = {
		{ EDIT_NONE, NULL },
		{ EDIT_FULL_BOTH, NULL },
		{ EDIT_NONE_BOTH, NULL },
		{ EDIT_COLLECTION_BOTH, NULL },
		{ EDIT_TO, "disagree on the to-commit ('" NEWER "' in the header, '" OTHER "'" },
		{ EDIT_FROM, "on the from-commit" },
		{ EDIT_FULL_IN_DELTA, "on the from-commit ('" BOOTED "' in the header, '(none)'" },
		{ EDIT_TIMESTAMP, "on the commit timestamp ('2000000' in the header, '2000001'" },
		{ EDIT_VERSION, "on the version ('2.1' in the header, '2.0' in the delta)" },
		{ EDIT_NO_VERSION_IN_DELTA, "on the version ('2.1' in the header, '(none)'" },
		{ EDIT_COLLECTION, "on the collection binding" },
		{ EDIT_REFS, "on the ref bindings ('testos/x86_64/main,testos/x86_64/devel' in the "
			     "header, 'otheros/x86_64/main' in the delta)" },
		{ EDIT_NO_REFS_IN_DELTA, "on the ref bindings" },
		{ EDIT_COMPRESSED, "on the size of the delta parts ('1000' in the header, '999'" },
		{ EDIT_UNCOMPRESSED, "on the uncompressed size of the delta parts" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (MuSignedHeader) h = header_new ();
		g_autoptr (MuDeltaInfo) info = info_new ();
		g_autoptr (GError) error = NULL;
		gboolean ok;

		apply_edit (cases[i].edit, h, info);
		ok = mu_bundle_v2_check_delta (h, info, &error);
		if (cases[i].differs == NULL) {
			g_assert_no_error (error);
			g_assert_true (ok);
			continue;
		}
		g_test_message ("case %u: %s", i, error != NULL ? error->message : "(accepted)");
		g_assert_false (ok);
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
		g_assert_nonnull (strstr (error->message, cases[i].differs));
	}
}

/* The delta's strings come from the stick: escaped in the message. */
static void
test_check_delta_escaped (void)
{
	g_autoptr (MuSignedHeader) h = header_new ();
	g_autoptr (MuDeltaInfo) info = info_new ();
	g_autoptr (GError) error = NULL;

	replace (&info->version, "2.1\n\033[2J");
	g_assert_false (mu_bundle_v2_check_delta (h, info, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE);
	for (const gchar *p = error->message; *p != '\0'; p++)
		g_assert_false (g_ascii_iscntrl (*p));
}

/* The policy sees "" and empty lists of the header as "none", like the delta's NULL. */
static void
test_policy_update (void)
{
	g_autoptr (MuSignedHeader) h = header_new ();
	const gchar *no_refs[] = { NULL };
	MuPolicyUpdate u;

	mu_bundle_v2_policy_update (h, &u);
	g_assert_cmpstr (u.to_commit, ==, NEWER);
	g_assert_cmpstr (u.from_commit, ==, BOOTED);
	g_assert_false (u.from_present);
	g_assert_cmpuint (u.timestamp, ==, 2000000);
	g_assert_cmpstr (u.version, ==, "2.1");
	g_assert_nonnull (u.ref_bindings);
	g_assert_cmpstr (u.ref_bindings[0], ==, "testos/x86_64/main");
	g_assert_null (u.collection_binding);
	/* The objects, and the checked copy of the parts. */
	g_assert_cmpuint (u.needed_bytes, ==, 6000);
	g_assert_false (mu_policy_needs_tree_check (&u));

	replace (&h->from_commit, "");
	replace (&h->version, "");
	replace_strv (&h->ref_bindings, no_refs);
	replace (&h->collection_binding, "org.example.TestOS");
	mu_bundle_v2_policy_update (h, &u);
	g_assert_null (u.from_commit);
	g_assert_null (u.version);
	g_assert_null (u.ref_bindings);
	g_assert_cmpstr (u.collection_binding, ==, "org.example.TestOS");
	g_assert_false (mu_policy_needs_tree_check (&u));

	replace (&h->collection_binding, "");
	mu_bundle_v2_policy_update (h, &u);
	g_assert_true (mu_policy_needs_tree_check (&u));
}

/* The header's os-release ID and VARIANT_ID against the booted tree, before any key. */
static void
test_check_tree_os (void)
{
	static const struct {
		const gchar *booted_id;
		const gchar *booted_variant;
		const gchar *id;
		const gchar *variant;
		gboolean accepted;
	} cases[] = {
		{ "testos", NULL, "testos", "", TRUE },
		{ "testos", NULL, "testos", "board-a", TRUE },
		{ "testos", "board-a", "testos", "board-a", TRUE },
		{ "testos", "board-a", "testos", "board-b", FALSE },
		{ "testos", "board-a", "testos", "", FALSE },
		{ "testos", NULL, "otheros", "", FALSE },
		{ "testos", NULL, "", "", FALSE },
		{ NULL, NULL, "testos", "", FALSE },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (MuSignedHeader) h = header_new ();
		g_autoptr (GError) error = NULL;
		MuPolicySystem system = {
			.commit = BOOTED,
			.os_id = cases[i].booted_id,
			.os_variant_id = cases[i].booted_variant,
		};
		gboolean ok;

		replace (&h->os_id, cases[i].id);
		replace (&h->os_variant_id, cases[i].variant);
		ok = mu_bundle_v2_check_tree_os (h, &system, &error);
		if (cases[i].accepted) {
			g_assert_no_error (error);
			g_assert_true (ok);
		} else {
			g_assert_false (ok);
			g_assert_error (error, MU_ERROR, MU_ERROR_WRONG_OS);
		}
	}
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/bundle-v2/check-delta", test_check_delta);
	g_test_add_func ("/bundle-v2/check-delta-escaped", test_check_delta_escaped);
	g_test_add_func ("/bundle-v2/policy-update", test_policy_update);
	g_test_add_func ("/bundle-v2/check-tree-os", test_check_tree_os);
	return g_test_run ();
}
