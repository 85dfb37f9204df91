/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "mu-bundle.h"
#include "mu-secret.h"

G_BEGIN_DECLS

/* Shared by mu-bundle.c and mu-bundle-trial.c only. */

/* What libcryptsetup reads: the file itself, or a loop device over it. */
const gchar *mu_bundle_get_device (MuBundle *bundle);
/* The header JSON as first loaded; a trial's own load must read the same. */
const gchar *mu_bundle_get_header_json (MuBundle *bundle);
const gchar *const *mu_bundle_get_extra_ciphers (MuBundle *bundle);
/* mu_bundle_check_encryption() of the loaded header, and libcryptsetup's view of
 * its integrity protection. */
gboolean mu_bundle_check_own_encryption (MuBundle *bundle, GError **error);
/* Keeps the volume key of the keyslot that opened, for mu_bundle_activate(). */
void mu_bundle_take_volume_key (MuBundle *bundle, MuSecret *volume_key);

G_END_DECLS
