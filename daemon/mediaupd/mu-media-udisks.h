/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The media source of a device: udisks2's object manager on the system bus. Filesystems on
 * USB or SD/MMC drives only (never internal disks); mounted read-only, nosuid, nodev,
 * noexec through udisks2, and unmounted through it.
 */

#include "mu-media-source.h"

G_BEGIN_DECLS

#define MU_TYPE_MEDIA_UDISKS (mu_media_udisks_get_type ())
G_DECLARE_FINAL_TYPE (MuMediaUdisks, mu_media_udisks, MU, MEDIA_UDISKS, GObject)

/* @system_bus: the bus udisks2 is on. Nothing is read until mu_media_source_start(). */
MuMediaSource *mu_media_udisks_new (GDBusConnection *system_bus);

G_END_DECLS
