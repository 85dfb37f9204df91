/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mu-bundle-format.h"
#include "mu-error.h"
#include "mu-tool-container.h"
#include "mu-tool-crypt.h"
#include "mu-tool-luks2.h"
#include "mu-tool.h"

static const gchar rekey_description[] =
	"Adds or removes keys of a bundle (format v1 or v2) in place, with one key it already\n"
	"has (--key): the volume key is taken from that key's keyslot and stored again in a new\n"
	"keyslot, with its key-id token, for every --add; every --remove destroys the keyslot\n"
	"and token of that key id. The data, the hash tree and the signed header are untouched,\n"
	"so no signing key is needed and the bundle verifies as before. The last keyslot is never\n"
	"removed; a key id that is already there, or a key that already opens a keyslot, is\n"
	"refused. New keyslots get the PBKDF of the slot --key opened, unless --pbkdf* is given.\n"
	"Runs unprivileged; key files are read from files only.\n"
	"\n"
	"Exit status: 0 done, 1 refused or failed (the bundle is as it was), 2 usage error.";

typedef struct {
	gchar *path;
	MuKey *key;
	GPtrArray *add; /* MuKey* */
	GStrv remove;   /* key ids */
	MuCryptDevice *cd;
	GPtrArray *slots; /* MuToolKeyslot*, before the change */
	gint opened_slot;
	MuSecret *volume_key;
	GArray *added; /* gint slots added so far */
} Rekey;

static void
rekey_clear (Rekey *r)
{
	g_clear_pointer (&r->path, g_free);
	g_clear_pointer (&r->key, mu_key_free);
	g_clear_pointer (&r->add, g_ptr_array_unref);
	g_clear_pointer (&r->remove, g_strfreev);
	g_clear_pointer (&r->cd, crypt_free);
	g_clear_pointer (&r->slots, g_ptr_array_unref);
	g_clear_pointer (&r->volume_key, mu_secret_free);
	g_clear_pointer (&r->added, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Rekey, rekey_clear)

static const MuToolKeyslot *
slot_of_id (GPtrArray *slots, const gchar *id)
{
	for (guint i = 0; i < slots->len; i++) {
		const MuToolKeyslot *ks = g_ptr_array_index (slots, i);

		if (g_strcmp0 (ks->key_id, id) == 0)
			return ks;
	}
	return NULL;
}

static gboolean
is_removed (const Rekey *r, const gchar *id)
{
	return id != NULL && r->remove != NULL &&
	       g_strv_contains ((const gchar *const *) r->remove, id);
}

static gboolean
open_bundle (Rekey *r, GError **error)
{
	g_autoptr (JsonNode) dump = NULL;
	const gchar *subsystem;
	size_t len;
	int slot;

	r->cd = mu_tool_luks2_load (r->path, error);
	if (r->cd == NULL)
		return FALSE;
	subsystem = crypt_get_subsystem (r->cd);
	if (g_strcmp0 (crypt_get_label (r->cd), MU_BUNDLE_LUKS_LABEL) != 0 ||
	    (g_strcmp0 (subsystem, MU_BUNDLE_LUKS_SUBSYSTEM_V1) != 0 &&
	     g_strcmp0 (subsystem, MU_BUNDLE_LUKS_SUBSYSTEM_V2) != 0)) {
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE,
			     "'%s' is not a mediaupd bundle of format v1 or v2 (label and "
			     "subsystem)",
			     r->path);
		return FALSE;
	}
	if (!mu_tool_luks2_dump (r->cd, NULL, &dump, error))
		return FALSE;
	r->slots = mu_tool_luks2_list_keyslots (dump, error);
	if (r->slots == NULL)
		return FALSE;
	r->volume_key = mu_secret_new ((gsize) crypt_get_volume_key_size (r->cd));
	len = r->volume_key->len;
	slot = crypt_volume_key_get (r->cd, CRYPT_ANY_SLOT, (char *) r->volume_key->data, &len,
				     (const char *) r->key->data, r->key->len);
	if (slot < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_NO_KEY,
			     "the key '%s' (--key) opens no keyslot of '%s': give a key the bundle "
			     "already has",
			     r->key->id, r->path);
		return FALSE;
	}
	r->opened_slot = slot;
	return TRUE;
}

/* Everything refused is refused here, before the header changes. */
static gboolean
check_request (Rekey *r, GError **error)
{
	guint remaining = r->slots->len;

	for (guint i = 0; r->remove != NULL && r->remove[i] != NULL; i++) {
		if (slot_of_id (r->slots, r->remove[i]) == NULL) {
			g_set_error (error, MU_ERROR, MU_ERROR_NOT_FOUND,
				     "--remove '%s': the bundle has no keyslot for that key id "
				     "(see 'mediaupd-bundle inspect')",
				     r->remove[i]);
			return FALSE;
		}
		for (guint j = 0; j < i; j++) {
			if (g_str_equal (r->remove[i], r->remove[j])) {
				g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
					     "--remove '%s' is given twice", r->remove[i]);
				return FALSE;
			}
		}
		remaining--;
	}
	for (guint i = 0; i < r->add->len; i++) {
		const MuKey *key = g_ptr_array_index (r->add, i);
		const MuToolKeyslot *same = slot_of_id (r->slots, key->id);
		int slot;

		if (same != NULL && !is_removed (r, key->id)) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "--add '%s': the bundle already has a keyslot (%d) for that "
				     "key id; remove it in the same call or choose another id",
				     key->id, same->slot);
			return FALSE;
		}
		for (guint j = 0; j < i; j++) {
			const MuKey *other = g_ptr_array_index (r->add, j);

			if (g_str_equal (other->id, key->id) ||
			    (other->len == key->len &&
			     memcmp (other->data, key->data, key->len) == 0)) {
				g_set_error (
					error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
					"--add '%s' and '%s': the same key id or key bytes twice",
					other->id, key->id);
				return FALSE;
			}
		}
		/* A check only: NULL name, nothing is activated. */
		slot = crypt_activate_by_passphrase (r->cd, NULL, CRYPT_ANY_SLOT,
						     (const char *) key->data, key->len, 0);
		if (slot >= 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "--add '%s': that key is already enrolled (it opens keyslot "
				     "%d)",
				     key->id, slot);
			return FALSE;
		}
		remaining++;
	}
	if (remaining == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "this would remove the last keyslot, and nothing could open the "
			     "bundle again: --add a key in the same call");
		return FALSE;
	}
	if (remaining > MU_BUNDLE_MAX_KEYSLOTS) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "a bundle holds at most %d keys", MU_BUNDLE_MAX_KEYSLOTS);
		return FALSE;
	}
	return TRUE;
}

/* Puts back what add_keys() did when a later step fails. */
static void
undo_adds (Rekey *r)
{
	for (guint i = 0; i < r->added->len; i++) {
		gint slot = g_array_index (r->added, gint, i);
		g_autoptr (JsonNode) dump = NULL;
		g_autoptr (GPtrArray) slots = NULL;

		if (mu_tool_luks2_dump (r->cd, NULL, &dump, NULL) &&
		    (slots = mu_tool_luks2_list_keyslots (dump, NULL)) != NULL) {
			for (guint j = 0; j < slots->len; j++) {
				const MuToolKeyslot *ks = g_ptr_array_index (slots, j);

				if (ks->slot == slot && ks->token >= 0)
					(void) crypt_token_json_set (r->cd, ks->token, NULL);
			}
		}
		(void) crypt_keyslot_destroy (r->cd, slot);
	}
	g_array_set_size (r->added, 0);
}

static gboolean
add_keys (Rekey *r, const MuToolPbkdf *options, GError **error)
{
	struct crypt_pbkdf_type pbkdf;

	if (options->type != NULL) {
		mu_tool_pbkdf_to_crypt (options, &pbkdf);
	} else {
		if (crypt_keyslot_get_pbkdf (r->cd, r->opened_slot, &pbkdf) < 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
				     "cannot read the PBKDF of keyslot %d", r->opened_slot);
			return FALSE;
		}
		pbkdf.flags |= CRYPT_PBKDF_NO_BENCHMARK;
		pbkdf.time_ms = 0;
	}
	for (guint i = 0; i < r->add->len; i++) {
		gint slot;

		if (!mu_tool_container_add_key (r->cd, g_ptr_array_index (r->add, i), r->volume_key,
						&pbkdf, &slot, error)) {
			undo_adds (r);
			return FALSE;
		}
		g_array_append_val (r->added, slot);
	}
	return TRUE;
}

static gboolean
remove_keys (Rekey *r, GError **error)
{
	for (guint i = 0; r->remove != NULL && r->remove[i] != NULL; i++) {
		const MuToolKeyslot *ks = slot_of_id (r->slots, r->remove[i]);
		int ret;

		/* check_request() found every id. */
		g_assert (ks != NULL);
		if (ks->token >= 0 && crypt_token_json_set (r->cd, ks->token, NULL) < 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
				     "cannot remove the key-id token of '%s'", r->remove[i]);
			return FALSE;
		}
		ret = crypt_keyslot_destroy (r->cd, ks->slot);
		if (ret < 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
				     "cannot remove keyslot %d of '%s' (%s)", ks->slot,
				     r->remove[i], g_strerror (-ret));
			return FALSE;
		}
		g_print ("Removed keyslot %d (key id '%s')\n", ks->slot, r->remove[i]);
	}
	return TRUE;
}

/* Read back from the file: each added key opens exactly its new slot. */
static gboolean
check_result (Rekey *r, GError **error)
{
	g_autoptr (MuCryptDevice) cd = mu_tool_luks2_load (r->path, error);

	if (cd == NULL)
		return FALSE;
	for (guint i = 0; i < r->add->len; i++) {
		const MuKey *key = g_ptr_array_index (r->add, i);
		gint slot = g_array_index (r->added, gint, i);
		int got = crypt_activate_by_passphrase (cd, NULL, CRYPT_ANY_SLOT,
							(const char *) key->data, key->len, 0);

		if (got != slot) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
				     "check: the added key '%s' opens keyslot %d, not %d", key->id,
				     got, slot);
			return FALSE;
		}
		g_print ("Added keyslot %d (key id '%s')\n", slot, key->id);
	}
	return TRUE;
}

int
mu_tool_cmd_rekey (int argc, char **argv)
{
	g_auto (Rekey) r = { .opened_slot = -1 };
	g_auto (MuToolPbkdf) pbkdf = { 0 };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *key_spec = NULL;
	g_auto (GStrv) add_specs = NULL;
	g_autofree gchar *pbkdf_name = NULL;
	gint iterations = 0, memory = 0, parallel = 0;
	GOptionEntry entries[] = {
		{ "key", 'k', 0, G_OPTION_ARG_FILENAME, &key_spec,
		  "A key the bundle has (to get its volume key)", "ID=FILE" },
		{ "add", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &add_specs,
		  "Add a keyslot for this key (repeatable)", "ID=FILE" },
		{ "remove", 0, 0, G_OPTION_ARG_STRING_ARRAY, &r.remove,
		  "Remove the keyslot of this key id (repeatable)", "ID" },
		{ "pbkdf", 0, 0, G_OPTION_ARG_STRING, &pbkdf_name,
		  "PBKDF of new keyslots: pbkdf2 or argon2id (default: that of --key's slot)",
		  "NAME" },
		{ "pbkdf-iterations", 0, 0, G_OPTION_ARG_INT, &iterations,
		  "pbkdf2 iterations or argon2id time cost", "N" },
		{ "pbkdf-memory", 0, 0, G_OPTION_ARG_INT, &memory, "argon2id memory in KiB",
		  "KIB" },
		{ "pbkdf-parallel", 0, 0, G_OPTION_ARG_INT, &parallel, "argon2id threads", "N" },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new ("BUNDLE");

	g_option_context_set_summary (context,
				      "Add or remove a bundle's keys with one of its keys.");
	g_option_context_set_description (context, rekey_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (argc != 2)
		return mu_tool_usage_error ("give exactly one argument, BUNDLE");
	if (key_spec == NULL)
		return mu_tool_usage_error ("give a key the bundle has with --key ID=FILE");
	if (add_specs == NULL && r.remove == NULL)
		return mu_tool_usage_error ("nothing to do: give --add ID=FILE or --remove ID");
	if ((pbkdf_name != NULL || iterations != 0 || memory != 0 || parallel != 0) &&
	    !mu_tool_pbkdf_from_options (&pbkdf, pbkdf_name, iterations, memory, parallel, &error))
		return mu_tool_usage_error ("%s", error->message);

	r.path = g_strdup (argv[1]);
	r.add = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_free);
	r.added = g_array_new (FALSE, FALSE, sizeof (gint));
	r.key = mu_tool_load_key_spec (key_spec, &error);
	if (r.key == NULL)
		return mu_tool_fail ("--key: ", error);
	for (guint i = 0; add_specs != NULL && add_specs[i] != NULL; i++) {
		MuKey *key = mu_tool_load_key_spec (add_specs[i], &error);

		if (key == NULL)
			return mu_tool_fail ("--add: ", error);
		g_ptr_array_add (r.add, key);
	}
	if (!open_bundle (&r, &error) || !check_request (&r, &error) ||
	    !add_keys (&r, &pbkdf, &error))
		return mu_tool_fail (NULL, error);
	if (!remove_keys (&r, &error) || !check_result (&r, &error))
		return mu_tool_fail (NULL, error);
	return MU_TOOL_EXIT_OK;
}
