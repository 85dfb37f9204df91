/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "mu-bundle-format.h"
#include "mu-delta.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-signed-delta.h"
#include "mu-signed-header.h"
#include "mu-tool-container.h"
#include "mu-tool-crypt.h"
#include "mu-tool-image.h"
#include "mu-tool-luks2.h"
#include "mu-tool.h"

static const gchar sign_header_description[] =
	"The one step of making a v2 bundle by hand (docs/bundle-format.md, \"Making a v2\n"
	"bundle by hand\") that stock cryptsetup cannot do: fixes the LUKS2 data segment of\n"
	"BUNDLE to --data-size bytes (cryptsetup always writes \"dynamic\"), checks that the\n"
	"dm-verity hash tree stored after it matches the ciphertext and --root-hash, then\n"
	"builds the signed header from the LUKS2 header, the verity parameters and the signed\n"
	"delta superblock (--superblock, as 'sign' wrote it; its to-commit's os-release is read\n"
	"from --repo), signs it with every --signing-key and stores it as the mediaupd-signed\n"
	"token, replacing an earlier one. Needs no encryption key.\n"
	"\n"
	"Exit status: 0 signed, 1 failed, 2 usage error.";

typedef struct {
	gchar *repo;
	gchar *ref;
	gchar *superblock;
	gchar **signing_keys;
	gchar *salt_hex;
	gchar *root_hex;
	gint64 data_size;
} SignHeaderOptions;

static void
sign_header_options_clear (SignHeaderOptions *o)
{
	g_free (o->repo);
	g_free (o->ref);
	g_free (o->superblock);
	g_strfreev (o->signing_keys);
	g_free (o->salt_hex);
	g_free (o->root_hex);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SignHeaderOptions, sign_header_options_clear)

static GBytes *
parse_hex (const gchar *option, const gchar *hex, gsize len, GError **error)
{
	g_autofree guint8 *data = g_malloc (len);

	if (hex == NULL || strlen (hex) != 2 * len) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "%s needs %" G_GSIZE_FORMAT
			     " hex digits (veritysetup format prints it)",
			     option, 2 * len);
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		gint hi = g_ascii_xdigit_value (hex[2 * i]);
		gint lo = g_ascii_xdigit_value (hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "%s is not hexadecimal", option);
			return NULL;
		}
		data[i] = (guint8) (hi * 16 + lo);
	}
	return g_bytes_new_take (g_steal_pointer (&data), len);
}

/* The unsigned superblock inside the signed envelope at @path. */
static GBytes *
load_superblock (const gchar *path, GError **error)
{
	g_autoptr (GBytes) envelope = mu_file_read_regular (path, MU_SIGNED_DELTA_MAX_SIZE,
							    MU_FILE_NONE, MU_ERROR_INVALID_ARGUMENT,
							    error);
	g_autoptr (MuSignedDelta) delta = NULL;

	if (envelope == NULL)
		return NULL;
	delta = mu_signed_delta_parse (envelope, error);
	if (delta == NULL) {
		g_prefix_error (error, "--superblock '%s' (give the signed superblock): ", path);
		return NULL;
	}
	return g_bytes_ref (mu_signed_delta_get_superblock (delta));
}

static int
sign_header (const SignHeaderOptions *o, const gchar *path)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_ed25519_secret_key_free);
	g_autoptr (MuSignedHeader) header = g_new0 (MuSignedHeader, 1);
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (MuDeltaInfo) info = NULL;
	g_autoptr (MuToolCommits) commits = NULL;
	g_autoptr (MuCryptDevice) cd = NULL;
	g_autoptr (JsonNode) dump = NULL;
	g_autofree gchar *dump_text = NULL;
	g_autofree gchar *token = NULL;
	guint64 data_size = (guint64) o->data_size;
	struct stat st;
	gint old;
	int fd;
	int r;

	for (guint i = 0; o->signing_keys[i] != NULL; i++) {
		MuEd25519SecretKey *key = mu_ed25519_secret_key_load (o->signing_keys[i], &error);

		if (key == NULL)
			return mu_tool_fail ("signing key: ", error);
		g_ptr_array_add (keys, key);
	}
	header->verity_salt = parse_hex ("--verity-salt", o->salt_hex, MU_BUNDLE_VERITY_SALT_LEN,
					 &error);
	if (header->verity_salt != NULL)
		header->root_hash = parse_hex ("--root-hash", o->root_hex,
					       MU_BUNDLE_VERITY_ROOT_LEN, &error);
	if (header->root_hash == NULL)
		return mu_tool_fail (NULL, error);
	superblock = load_superblock (o->superblock, &error);
	if (superblock == NULL || (info = mu_delta_info_new (superblock, &error)) == NULL)
		return mu_tool_fail (NULL, error);
	commits = mu_tool_commits_resolve (o->repo, o->ref, info->to_commit, info->from_commit,
					   &error);
	if (commits == NULL || !mu_tool_header_fill_update (header, commits, superblock, &error))
		return mu_tool_fail (NULL, error);

	fd = open (path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat (fd, &st) != 0) {
		mu_error_set_errno (&error, errno, "cannot open '%s' for writing", path);
		if (fd >= 0)
			(void) close (fd);
		return mu_tool_fail (NULL, error);
	}
	r = mu_tool_luks2_set_segment (fd, data_size, NULL, &error) ? 0 : -1;
	(void) close (fd);
	if (r < 0)
		return mu_tool_fail (NULL, error);
	cd = mu_tool_luks2_load (path, &error);
	if (cd == NULL || !mu_tool_luks2_dump (cd, NULL, &dump, &error) ||
	    !mu_tool_container_fill_header (dump, header, &error))
		return mu_tool_fail (NULL, error);
	header->format = MU_BUNDLE_FORMAT_V2;
	header->key_size = (guint32) crypt_get_volume_key_size (cd);
	header->hash_offset = header->data_offset + header->data_size;
	header->verity_hash = g_strdup (MU_BUNDLE_VERITY_HASH);
	header->data_block_size = MU_BUNDLE_VERITY_BLOCK_SIZE;
	header->hash_block_size = MU_BUNDLE_VERITY_BLOCK_SIZE;
	if ((guint64) st.st_size !=
	    header->hash_offset + mu_signed_header_hash_tree_size (header)) {
		g_set_error (&error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "'%s' is %" G_GUINT64_FORMAT
			     " bytes; with the data at %" G_GUINT64_FORMAT
			     " and --data-size %" G_GUINT64_FORMAT
			     " it must end right after the hash "
			     "tree, at %" G_GUINT64_FORMAT,
			     path, (guint64) st.st_size, header->data_offset, data_size,
			     header->hash_offset + mu_signed_header_hash_tree_size (header));
		return mu_tool_fail (NULL, error);
	}
	fd = open (path, O_RDONLY | O_CLOEXEC);
	r = fd >= 0 && mu_tool_check_image (fd, header->data_offset, header->data_size, NULL, NULL,
					    header->verity_salt, header->root_hash, -1, &error);
	if (fd >= 0)
		(void) close (fd);
	if (!r) {
		if (error == NULL)
			mu_error_set_errno (&error, errno, "cannot open '%s'", path);
		return mu_tool_fail ("the hash tree: ", error);
	}
	token = mu_signed_token_build_json (header, (MuEd25519SecretKey *const *) keys->pdata,
					    keys->len, &error);
	if (token == NULL)
		return mu_tool_fail (NULL, error);
	old = mu_tool_luks2_find_token (dump, MU_BUNDLE_SIGNED_TOKEN_TYPE);
	if (old >= 0 && crypt_token_json_set (cd, old, NULL) < 0) {
		g_set_error (&error, MU_ERROR, MU_ERROR_FAILED, "cannot replace the signed token");
		return mu_tool_fail (NULL, error);
	}
	r = crypt_token_json_set (cd, CRYPT_ANY_TOKEN, token);
	if (r < 0) {
		g_set_error (&error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot store the signed header token (%s)", g_strerror (-r));
		return mu_tool_fail (NULL, error);
	}
	if (!mu_tool_luks2_dump (cd, &dump_text, NULL, &error) ||
	    !mu_signed_header_check_luks (header, dump_text, (guint64) st.st_size, &error))
		return mu_tool_fail ("check: ", error);
	g_print ("Signed the header of '%s' (token %d) with %u key(s)\n", path, r, keys->len);
	return MU_TOOL_EXIT_OK;
}

int
mu_tool_cmd_sign_header (int argc, char **argv)
{
	g_auto (SignHeaderOptions) o = { 0 };
	GOptionEntry entries[] = {
		{ "repo", 0, 0, G_OPTION_ARG_FILENAME, &o.repo, "OSTree repository", "REPO" },
		{ "ref", 0, 0, G_OPTION_ARG_STRING, &o.ref, "The ref the bundle ships", "REF" },
		{ "superblock", 0, 0, G_OPTION_ARG_FILENAME, &o.superblock,
		  "The signed delta superblock inside the image", "FILE" },
		{ "signing-key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.signing_keys,
		  "ed25519 secret key file (repeatable)", "FILE" },
		{ "data-size", 0, 0, G_OPTION_ARG_INT64, &o.data_size,
		  "Bytes of ciphertext (the padded image)", "N" },
		{ "verity-salt", 0, 0, G_OPTION_ARG_STRING, &o.salt_hex,
		  "The hash tree's salt, hex", "HEX" },
		{ "root-hash", 0, 0, G_OPTION_ARG_STRING, &o.root_hex,
		  "The hash tree's root hash, hex", "HEX" },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new ("BUNDLE");

	g_option_context_set_summary (context, "Sign the header of a v2 bundle made by hand.");
	g_option_context_set_description (context, sign_header_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (argc != 2)
		return mu_tool_usage_error ("give exactly one argument, BUNDLE");
	if (o.repo == NULL || o.ref == NULL || o.superblock == NULL || o.signing_keys == NULL ||
	    o.salt_hex == NULL || o.root_hex == NULL)
		return mu_tool_usage_error ("--repo, --ref, --superblock, --signing-key, "
					    "--verity-salt and --root-hash are required");
	if (o.data_size <= 0 || o.data_size % MU_TOOL_SECTOR_SIZE != 0)
		return mu_tool_usage_error ("--data-size must be a positive multiple of 4096");
	return sign_header (&o, argv[1]);
}
