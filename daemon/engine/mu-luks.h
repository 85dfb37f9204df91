/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libcryptsetup.h>

G_BEGIN_DECLS

/* LUKS2 helpers that know nothing of mediaupd's bundle format. */

typedef struct crypt_device MuCryptDevice;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuCryptDevice, crypt_free)

typedef enum {
	MU_LUKS_MAGIC_NONE,
	MU_LUKS_MAGIC_LUKS1,
	MU_LUKS_MAGIC_LUKS2,
} MuLuksMagic;

/* Looks for a LUKS header magic in the first bytes of a file: the primary
 * header at offset 0, or a LUKS2 secondary header at one of its offsets. */
MuLuksMagic mu_luks_sniff (GBytes *head);

/* The data segment from libcryptsetup's JSON dump of the header (crypt_dump_json):
 * offset and size in bytes, size 0 for "dynamic". MU_ERROR_CORRUPT_BUNDLE unless
 * there is exactly one segment and it is of type "crypt". */
gboolean mu_luks_parse_segment (GBytes *header_json, guint64 *out_offset, guint64 *out_size,
				GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Process-wide libcryptsetup setup; idempotent, mu_bundle_open() calls it:
 * - its log goes into GLib (errors as messages, normal and verbose output as
 *   info, its debug log only when GLib shows debug messages);
 * - no token plugins are loaded for token types named in a header;
 * - metadata locking is off: mediaupd only reads LUKS2 headers, and without
 *   locks libcryptsetup never rewrites a damaged header copy on its own (it
 *   would otherwise "repair" the bundle file it was asked to read).
 */
void mu_luks_init (void);

/* Sets the same routing on one device (libcryptsetup logs per device). */
void mu_luks_set_device_logging (struct crypt_device *cd);

G_END_DECLS
