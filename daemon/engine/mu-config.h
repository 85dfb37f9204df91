/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Everything the engine reads from the system comes from here, so that tests point
 * the engine at a temporary directory. Loaded strictly: an unknown group or key is
 * an error (MU_ERROR_CONFIG), not silently ignored.
 *
 *   [Keys]       Directories=  device LUKS keys (ID.key), searched in order
 *   [Trust]      Trusted=      ed25519 trusted key files or directories
 *                Revoked=      ed25519 revoked key files or directories
 *   [Bundle]     Names=        accepted bundle file names at the root of the medium
 *                MaxSize=      largest bundle file accepted, in MiB
 *                Formats=      bundle format versions accepted (default 2; "1;2" also
 *                              takes v1 bundles, which are not authenticated before
 *                              the kernel parses their decrypted image); the data
 *                              ciphers accepted are [Unlock] Ciphers=
 *   [Update]     Sysroot=      the OSTree sysroot to update
 *                AllowDowngrade=  accept bundles older than the booted commit
 *                RequireBindings= refuse commits bound to no ref or collection (without,
 *                                 their tree's os-release must name the booted OS)
 *                FreeSpaceMarginMiB=  kept free beyond the delta's size
 *   [Unlock]     Ciphers=      LUKS2 ciphers accepted besides aes-xts-plain64 (e.g.
 *                              xchacha12,aes-adiantum-plain64, for bundles made with
 *                              create --cipher adiantum); cipher_null never
 *                Filesystems=  inner image types accepted (erofs;squashfs; ext4 opt-in)
 *                MaxPbkdf2Iterations=, MaxArgon2Time=, MaxArgon2MemoryKiB=,
 *                MaxArgon2Threads=  the costliest keyslot PBKDF tried; argon2 memory
 *                              beyond MemAvailable is never tried either
 *                MaxTrialSeconds=  all key trials of one bundle
 *   [Paths]      StateDirectory=, RuntimeDirectory=
 * The daemon's (mediaupd) own:
 *   [Media]      Source=       where removable media come from: udisks (udisks2 on the
 *                              system bus, the default) or none (only ApplyBundle over D-Bus)
 *   [Reboot]     Policy=       after a successful install from a medium with no agent:
 *                              after-removal (the default), immediate or never
 *   [Boot]       Backend=      the boot-state backend MarkBootSuccessful uses: none (records
 *                              the booted commit as the last good one in the state file)
 */
typedef struct {
	GStrv key_dirs;
	GStrv trusted;
	GStrv revoked;
	GStrv bundle_names;
	guint64 bundle_max_size;
	guint bundle_formats; /* MU_BUNDLE_FORMAT_BIT (version) for each accepted version */
	gchar *sysroot;
	gboolean allow_downgrade;
	gboolean require_bindings;
	guint64 free_space_margin;
	gchar *state_dir;
	gchar *runtime_dir;
	GStrv unlock_ciphers;
	GStrv unlock_filesystems;
	guint32 pbkdf2_max_iterations;
	guint32 argon2_max_time;
	guint32 argon2_max_memory_kib;
	guint32 argon2_max_threads;
	guint32 max_trial_seconds;
	gchar *media_source;
	gchar *reboot_policy;
	gchar *boot_backend;
} MuConfig;

#define MU_CONFIG_DEFAULT_PATH MEDIAUPD_SYSCONFDIR "/mediaupd.conf"
/* Far more than any configuration needs: a larger file is the wrong file. */
#define MU_CONFIG_FILE_MAX_SIZE ((gsize) 1024 * 1024)

MuConfig *mu_config_new_defaults (void);
void mu_config_free (MuConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuConfig, mu_config_free)

/* Parses @data over the defaults. Errors name the group, key and what is expected. */
G_GNUC_WARN_UNUSED_RESULT
MuConfig *mu_config_new_from_bytes (GBytes *data, const gchar *origin, GError **error);

/* Reads @path, a regular file of at most MU_CONFIG_FILE_MAX_SIZE bytes; a missing file gives
 * the defaults when @missing_ok. */
G_GNUC_WARN_UNUSED_RESULT
MuConfig *mu_config_new_from_file (const gchar *path, gboolean missing_ok, GError **error);

G_END_DECLS
