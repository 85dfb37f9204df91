/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-luks.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "mu-error.h"
#include "mu-json.h"

#define LUKS_MAGIC_LEN 6
static const guint8 luks_magic_primary[LUKS_MAGIC_LEN] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
static const guint8 luks_magic_secondary[LUKS_MAGIC_LEN] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };

/* Where LUKS2 may keep its second header copy (= the size of the first one). */
static const gsize luks2_secondary_offsets[] = {
	0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
};

/* Magic, then a big-endian 16-bit version. */
static guint
header_version_at (const guint8 *data, gsize size, gsize offset, const guint8 *magic)
{
	if (size < offset + LUKS_MAGIC_LEN + 2)
		return 0;
	if (memcmp (data + offset, magic, LUKS_MAGIC_LEN) != 0)
		return 0;
	return ((guint) data[offset + LUKS_MAGIC_LEN] << 8) | data[offset + LUKS_MAGIC_LEN + 1];
}

MuLuksMagic
mu_luks_sniff (GBytes *head)
{
	gsize size = 0;
	const guint8 *data;
	guint version;

	g_return_val_if_fail (head != NULL, MU_LUKS_MAGIC_NONE);

	data = g_bytes_get_data (head, &size);
	version = header_version_at (data, size, 0, luks_magic_primary);
	if (version == 1)
		return MU_LUKS_MAGIC_LUKS1;
	if (version == 2)
		return MU_LUKS_MAGIC_LUKS2;
	for (guint i = 0; i < G_N_ELEMENTS (luks2_secondary_offsets); i++) {
		if (header_version_at (data, size, luks2_secondary_offsets[i],
				       luks_magic_secondary) == 2)
			return MU_LUKS_MAGIC_LUKS2;
	}
	return MU_LUKS_MAGIC_NONE;
}

/* LUKS2 JSON keeps 64-bit numbers as decimal strings. */
static gboolean
parse_u64_string (const gchar *str, guint64 *out_value)
{
	guint64 value = 0;

	if (str == NULL || !g_ascii_string_to_unsigned (str, 10, 0, G_MAXUINT64, &value, NULL))
		return FALSE;
	*out_value = value;
	return TRUE;
}

static gboolean
segment_error (GError **error, const gchar *what)
{
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BUNDLE,
		     "The LUKS2 header's data segment is unusable (%s); "
		     "rebuild the bundle with make-encrypted-bundle.sh",
		     what);
	return FALSE;
}

gboolean
mu_luks_parse_segment (GBytes *header_json, guint64 *out_offset, guint64 *out_size, GError **error)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	g_autoptr (GError) local_error = NULL;
	g_autoptr (GList) members = NULL;
	JsonObject *root;
	JsonObject *segments;
	JsonObject *segment;
	JsonNode *node;
	const gchar *size_str;
	guint64 offset = 0;
	guint64 size = 0;

	g_return_val_if_fail (header_json != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_json_parser_load_bytes (parser, header_json, &local_error))
		return segment_error (error, "the header JSON does not parse");
	node = json_parser_get_root (parser);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
		return segment_error (error, "the header JSON is not an object");
	root = json_node_get_object (node);
	node = json_object_get_member (root, "segments");
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
		return segment_error (error, "no segments");
	segments = json_node_get_object (node);
	if (json_object_get_size (segments) != 1)
		return segment_error (error, "not exactly one segment");
	members = json_object_get_members (segments);
	node = json_object_get_member (segments, members->data);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
		return segment_error (error, "the segment is not an object");
	segment = json_node_get_object (node);
	if (g_strcmp0 (mu_json_object_get_string (segment, "type"), "crypt") != 0)
		return segment_error (error, "the segment is not of type crypt");
	if (!parse_u64_string (mu_json_object_get_string (segment, "offset"), &offset))
		return segment_error (error, "bad segment offset");
	size_str = mu_json_object_get_string (segment, "size");
	if (g_strcmp0 (size_str, "dynamic") != 0 &&
	    (!parse_u64_string (size_str, &size) || size == 0))
		return segment_error (error, "bad segment size");

	*out_offset = offset;
	*out_size = size;
	return TRUE;
}

static void
luks_log_cb (int level, const char *msg, void *usrptr)
{
	g_autofree gchar *text = g_strchomp (g_strdup (msg != NULL ? msg : ""));
	GLogLevelFlags glevel;

	/* The caller turns every failure into a GError of its own, so the
	 * library's errors are supporting detail: shown by default, not warnings. */
	switch (level) {
	case CRYPT_LOG_ERROR:
		glevel = G_LOG_LEVEL_MESSAGE;
		break;
	case CRYPT_LOG_NORMAL:
	case CRYPT_LOG_VERBOSE:
		glevel = G_LOG_LEVEL_INFO;
		break;
	default: /* CRYPT_LOG_DEBUG, CRYPT_LOG_DEBUG_JSON */
		glevel = G_LOG_LEVEL_DEBUG;
		break;
	}
	if (text[0] == '\0')
		return;
	g_log_structured (G_LOG_DOMAIN, glevel, "MESSAGE", "libcryptsetup: %s", text);
}

void
mu_luks_init (void)
{
	static gsize done = 0;

	if (!g_once_init_enter (&done))
		return;
	/* The default for messages before a device exists (crypt_init). */
	crypt_set_log_callback (NULL, luks_log_cb, NULL);
	/* Only when GLib shows debug output: libcryptsetup's debug log is verbose. */
	if (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
		crypt_set_debug_level (CRYPT_DEBUG_ALL);
	/* Token types come from the (untrusted) header: never load token plugins for them. */
	crypt_token_external_disable ();
	crypt_metadata_locking (NULL, 0);
	g_once_init_leave (&done, 1);
}

void
mu_luks_set_device_logging (struct crypt_device *cd)
{
	mu_luks_init ();
	crypt_set_log_callback (cd, luks_log_cb, NULL);
}
