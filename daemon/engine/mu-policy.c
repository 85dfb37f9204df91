/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-error.h"
#include "mu-policy.h"

/* Length of the run of digits at @s, with leading zeros skipped into *start. */
static gsize
digit_run (const gchar *s, const gchar **start)
{
	gsize n = 0;

	while (*s == '0' && g_ascii_isdigit (s[1]))
		s++;
	*start = s;
	while (g_ascii_isdigit (s[n]))
		n++;
	return n;
}

gint
mu_version_compare (const gchar *a, const gchar *b)
{
	while (*a != '\0' && *b != '\0') {
		if (g_ascii_isdigit (*a) && g_ascii_isdigit (*b)) {
			const gchar *da, *db;
			gsize la = digit_run (a, &da);
			gsize lb = digit_run (b, &db);
			gint c;

			if (la != lb)
				return la < lb ? -1 : 1;
			c = strncmp (da, db, la);
			if (c != 0)
				return c < 0 ? -1 : 1;
			a = da + la;
			b = db + lb;
			continue;
		}
		if (*a != *b)
			return (guchar) *a < (guchar) *b ? -1 : 1;
		a++;
		b++;
	}
	if (*a == *b)
		return 0;
	return *a == '\0' ? -1 : 1;
}

/* Without a binding the tree's os-release decides, after the apply; this device must have
 * an ID to compare it with. */
#define NO_OS_ID_MESSAGE                                                                           \
	"the update's commit is bound to no ref or collection, and this device's "                 \
	"usr/lib/os-release has no ID to compare the update's with; use a bundle whose "           \
	"commit was made with --bind-ref"

static gboolean
check_unbound (const MuPolicySystem *system, const MuPolicyLimits *limits, GError **error)
{
	if (limits->require_bindings) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_WRONG_OS,
				     "the update's commit is bound to no ref or collection, and "
				     "this device takes only bound updates ([Update] "
				     "RequireBindings=true); use a bundle whose commit was made "
				     "with --bind-ref");
		return FALSE;
	}
	if (system->os_id == NULL) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_WRONG_OS, NO_OS_ID_MESSAGE);
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_bindings (const MuPolicySystem *system, const MuPolicyUpdate *update,
		const MuPolicyLimits *limits, GError **error)
{
	if (mu_policy_needs_tree_check (update))
		return check_unbound (system, limits, error);
	if (update->ref_bindings != NULL &&
	    (system->origin_ref == NULL ||
	     !g_strv_contains (update->ref_bindings, system->origin_ref))) {
		g_autoptr (GPtrArray) unique = g_ptr_array_new ();
		g_autofree gchar *refs = NULL;

		/* ostree lists the branch again when it is also given with --bind-ref. */
		for (guint i = 0; update->ref_bindings[i] != NULL; i++)
			if (!g_ptr_array_find_with_equal_func (unique, update->ref_bindings[i],
							       g_str_equal, NULL))
				g_ptr_array_add (unique, (gpointer) update->ref_bindings[i]);
		g_ptr_array_add (unique, NULL);
		refs = g_strjoinv ("', '", (GStrv) unique->pdata);

		g_set_error (error, MU_ERROR, MU_ERROR_WRONG_OS,
			     "the update is for '%s', this device runs '%s'; use a bundle made "
			     "for this device's OS",
			     refs, system->origin_ref != NULL ? system->origin_ref : "(no ref)");
		return FALSE;
	}
	if (update->collection_binding != NULL &&
	    g_strcmp0 (update->collection_binding, system->collection_id) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_WRONG_OS,
			     "the update is for collection '%s', this device's is '%s'; use a "
			     "bundle made for this device's OS",
			     update->collection_binding,
			     system->collection_id != NULL ? system->collection_id : "(none)");
		return FALSE;
	}
	return TRUE;
}

/* @update is not older than the deployment built at @timestamp with @version; @what names
 * that deployment in the refusal. */
static gboolean
check_not_older (const MuPolicyUpdate *update, guint64 timestamp, const gchar *version,
		 const gchar *what, GError **error)
{
	if (update->timestamp < timestamp) {
		g_autoptr (GDateTime) t_new = g_date_time_new_from_unix_utc (
			(gint64) update->timestamp);
		g_autoptr (GDateTime) t_now = g_date_time_new_from_unix_utc ((gint64) timestamp);
		g_autofree gchar *s_new = t_new != NULL ? g_date_time_format_iso8601 (t_new) : NULL;
		g_autofree gchar *s_now = t_now != NULL ? g_date_time_format_iso8601 (t_now) : NULL;

		g_set_error (error, MU_ERROR, MU_ERROR_DOWNGRADE,
			     "the update (built %s) is older than %s (built %s); use a newer bundle",
			     s_new != NULL ? s_new : "?", what, s_now != NULL ? s_now : "?");
		return FALSE;
	}
	if (update->version != NULL && version != NULL &&
	    mu_version_compare (update->version, version) < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_DOWNGRADE,
			     "the update's version '%s' is older than %s (version '%s'); use a "
			     "newer bundle",
			     update->version, what, version);
		return FALSE;
	}
	return TRUE;
}

/* Neither what runs nor what an earlier install left to boot next is already this commit. */
static gboolean
check_not_installed (const MuPolicySystem *system, const MuPolicyUpdate *update, GError **error)
{
	if (g_strcmp0 (update->to_commit, system->commit) == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_ALREADY_INSTALLED,
			     "commit %s is already running; nothing to do", update->to_commit);
		return FALSE;
	}
	if (g_strcmp0 (update->to_commit, system->pending_commit) == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_ALREADY_INSTALLED,
			     "commit %s is already installed and starts at the next boot; restart "
			     "the device to use it",
			     update->to_commit);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_policy_needs_tree_check (const MuPolicyUpdate *update)
{
	return update->ref_bindings == NULL && update->collection_binding == NULL;
}

gboolean
mu_policy_check_tree_os (const MuPolicySystem *system, const MuOsRelease *tree, GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (system->os_id == NULL) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_WRONG_OS, NO_OS_ID_MESSAGE);
		return FALSE;
	}
	if (tree->id == NULL || !g_str_equal (tree->id, system->os_id)) {
		g_set_error (error, MU_ERROR, MU_ERROR_WRONG_OS,
			     "the update's commit is bound to no ref or collection and its "
			     "usr/lib/os-release names OS '%s', this device runs '%s'; use a "
			     "bundle made for this device's OS",
			     tree->id != NULL ? tree->id : "(no ID)", system->os_id);
		return FALSE;
	}
	if (system->os_variant_id != NULL &&
	    g_strcmp0 (tree->variant_id, system->os_variant_id) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_WRONG_OS,
			     "the update's commit is bound to no ref or collection and its "
			     "usr/lib/os-release names variant '%s' of '%s', this device runs "
			     "variant '%s'; use a bundle made for this device's variant",
			     tree->variant_id != NULL ? tree->variant_id : "(no VARIANT_ID)",
			     tree->id, system->os_variant_id);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_policy_check_blacklist (const MuPolicyUpdate *update, const gchar *const *blacklist,
			   GError **error)
{
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (blacklist == NULL || update->to_commit == NULL ||
	    !g_strv_contains (blacklist, update->to_commit))
		return TRUE;
	g_set_error (error, MU_ERROR, MU_ERROR_BLACKLISTED,
		     "commit %s%s%s%s failed to boot on this device before and was rolled "
		     "back; use a newer bundle, or allow it again with 'mediaupdctl "
		     "clear-blacklist %s'",
		     update->to_commit, update->version != NULL ? " (version " : "",
		     update->version != NULL ? update->version : "",
		     update->version != NULL ? ")" : "", update->to_commit);
	return FALSE;
}

gboolean
mu_policy_check (const MuPolicySystem *system, const MuPolicyUpdate *update,
		 const MuPolicyLimits *limits, GError **error)
{
	g_return_val_if_fail (system != NULL && update != NULL && limits != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_policy_check_blacklist (update, limits->blacklist, error) ||
	    !check_bindings (system, update, limits, error) ||
	    !check_not_installed (system, update, error))
		return FALSE;
	if (!limits->allow_downgrade &&
	    (!check_not_older (update, system->timestamp, system->version, "the running system",
			       error) ||
	     (system->pending_commit != NULL &&
	      !check_not_older (update, system->pending_timestamp, system->pending_version,
				"the update already installed for the next boot", error))))
		return FALSE;
	if (update->from_commit != NULL && !update->from_present) {
		g_set_error (error, MU_ERROR, MU_ERROR_MISSING_FROM_COMMIT,
			     "the update is a delta from commit %s, which this device does not "
			     "have; use a bundle made from the running version (%s) or a full one",
			     update->from_commit, system->commit);
		return FALSE;
	}
	if (update->needed_bytes > G_MAXUINT64 - limits->margin_bytes ||
	    update->needed_bytes + limits->margin_bytes > limits->free_bytes) {
		g_autofree gchar *needed = g_format_size (update->needed_bytes);
		g_autofree gchar *margin = g_format_size (limits->margin_bytes);
		g_autofree gchar *free_space = g_format_size (limits->free_bytes);

		g_set_error (error, MU_ERROR, MU_ERROR_NO_SPACE,
			     "the update needs %s plus a margin of %s, but only %s are free on "
			     "the system partition",
			     needed, margin, free_space);
		return FALSE;
	}
	return TRUE;
}
