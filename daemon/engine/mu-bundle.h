/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <libcryptsetup.h>

#include "mu-key.h"
#include "mu-luks.h"

G_BEGIN_DECLS

/*
 * The outer container of a bundle: a LUKS2 header, read without any key.
 *
 *   g_autoptr (MuBundle) bundle = mu_bundle_open (path, &error);
 *   const MuBundleInfo *info = mu_bundle_get_info (bundle);
 *   mu_bundle_try_keys (bundle, keys, trials, cancellable, &slot, &key, &error);
 *
 * Opening checks, before any PBKDF work: LUKS2 at all, label and subsystem
 * (format version), a single data segment, no unfinished reencryption, and
 * that the file is not cut short. Key trials are check-only (no
 * device-mapper, no root); activating the data segment is up to the caller,
 * with mu_bundle_get_crypt_device() and the slot and key that opened it.
 */

typedef enum {
	MU_BUNDLE_KEYSLOT_ACTIVE,  /* holds the data segment's volume key */
	MU_BUNDLE_KEYSLOT_UNBOUND, /* active but bound to no segment: never opens the data */
} MuBundleKeyslotStatus;

typedef struct {
	gint slot;
	MuBundleKeyslotStatus status;
	gint priority;            /* crypt_keyslot_priority: 0 ignore, 1 normal, 2 prefer */
	gchar *pbkdf_type;        /* "pbkdf2", "argon2id", "argon2i" */
	gchar *pbkdf_hash;        /* pbkdf2 only, else NULL */
	guint32 pbkdf_iterations; /* pbkdf2: iterations; argon2: time cost */
	guint32 pbkdf_memory_kib; /* argon2 only */
	guint32 pbkdf_parallel;   /* argon2 only */
	gint token;               /* the mediaupd-keyid token naming this slot's key, or -1 */
	gchar *key_id;            /* the key id from that token, or NULL */
} MuBundleKeyslot;

typedef struct {
	guint format_version; /* from the subsystem: "mediaupd-v1" -> 1, "mediaupd-v2" -> 2 */
	gchar *label;
	gchar *subsystem;
	gchar *uuid;
	gchar *cipher;       /* "aes" */
	gchar *cipher_mode;  /* "xts-plain64" */
	guint key_size;      /* volume key, bytes */
	guint sector_size;   /* bytes */
	guint64 file_size;   /* bytes */
	guint64 data_offset; /* bytes */
	guint64 data_size;   /* bytes: the segment's size, or what the file holds past the offset */
	gboolean data_size_dynamic; /* the segment runs to the end of the file */
	GPtrArray *keyslots; /* MuBundleKeyslot*, ascending slot numbers, active slots only */
	/* Format v2: the tokens of type MU_BUNDLE_SIGNED_TOKEN_TYPE, and the JSON of the
	 * first one (NULL if none); not parsed or verified here. */
	guint n_signed_tokens;
	gchar *signed_token_json;
} MuBundleInfo;

typedef struct _MuBundle MuBundle;

/*
 * Reads and checks the LUKS2 header of @path (a file or a block device).
 * Errors: MU_ERROR_NOT_FOUND, MU_ERROR_IO, MU_ERROR_NOT_A_BUNDLE (not LUKS2, or
 * a LUKS2 file without the mediaupd label), MU_ERROR_UNSUPPORTED_FORMAT (a
 * mediaupd bundle of another format version), MU_ERROR_CORRUPT_BUNDLE
 * (damaged header, truncated file, unfinished reencryption).
 */
MuBundle *mu_bundle_open (const gchar *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Opens @device (e.g. a loop device over the bundle file) and names it @name in
 * messages and logs. */
MuBundle *mu_bundle_open_device (const gchar *device, const gchar *name,
				 GError **error) G_GNUC_WARN_UNUSED_RESULT;
void mu_bundle_free (MuBundle *bundle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuBundle, mu_bundle_free)

const gchar *mu_bundle_get_path (MuBundle *bundle);
const MuBundleInfo *mu_bundle_get_info (MuBundle *bundle);
/* The loaded header, for activating the data segment; owned by @bundle. */
struct crypt_device *mu_bundle_get_crypt_device (MuBundle *bundle);
/* The keyslot whose token names @key_id, or NULL. */
const MuBundleKeyslot *mu_bundle_info_find_key_id (const MuBundleInfo *info, const gchar *key_id);

/*
 * The costliest keyslot PBKDF a key trial will run, and the time all trials of
 * one bundle may take. The header comes from the stick, which may be hostile: a
 * keyslot over these limits, or whose argon2 memory exceeds what the device has
 * available (MemAvailable), is not tried (its MuKeyTrial says tried = FALSE).
 * Bundle keys are random, so makers set cheap parameters (make-encrypted-bundle.sh:
 * pbkdf2 1000 iterations, or argon2id time 4, 64 MiB, 1 thread); the defaults
 * admit these with room to spare and bound one trial to a few seconds on a
 * small board ([Unlock] in mediaupd.conf).
 */
typedef struct {
	guint32 pbkdf2_max_iterations;
	guint32 argon2_max_time; /* time cost (iterations) */
	guint32 argon2_max_memory_kib;
	guint32 argon2_max_threads;
	guint32 max_trial_seconds; /* all trials of one mu_bundle_try_keys() call */
} MuPbkdfLimits;

#define MU_PBKDF2_MAX_ITERATIONS_DEFAULT 1000000
#define MU_ARGON2_MAX_TIME_DEFAULT 16
#define MU_ARGON2_MAX_MEMORY_KIB_DEFAULT (256 * 1024)
#define MU_ARGON2_MAX_THREADS_DEFAULT 4
#define MU_MAX_TRIAL_SECONDS_DEFAULT 60

/* The defaults above. */
void mu_pbkdf_limits_init (MuPbkdfLimits *limits);
/* Limits for later mu_bundle_try_keys() calls; mu_bundle_open() sets the defaults. */
void mu_bundle_set_pbkdf_limits (MuBundle *bundle, const MuPbkdfLimits *limits);
const MuPbkdfLimits *mu_bundle_get_pbkdf_limits (MuBundle *bundle);
/* Whether a trial would run @slot's PBKDF under @limits (memory against the
 * configured limit only; the trial also checks what the device has). */
gboolean mu_pbkdf_limits_allow (const MuPbkdfLimits *limits, const MuBundleKeyslot *slot);

/*
 * The encryption the bundle format uses, and the only one accepted unless the
 * configuration adds more: the data segment and every keyslot area in
 * aes-xts-plain64 with a 512-bit key, 4096-byte sectors, no integrity.
 */
#define MU_BUNDLE_CIPHER "aes-xts-plain64"
#define MU_BUNDLE_KEY_BYTES 64
#define MU_BUNDLE_SECTOR_SIZE 4096

/* Ciphers ("cipher-mode", as LUKS2 names them) accepted besides MU_BUNDLE_CIPHER,
 * for later mu_bundle_try_keys() calls; NULL or empty: none. */
void mu_bundle_set_extra_ciphers (MuBundle *bundle, const gchar *const *ciphers);

/* One check-only attempt of one key against one keyslot. */
typedef struct {
	gchar *key_id;
	gint slot;
	gboolean hinted;    /* the slot's token names this key id */
	gboolean tried;     /* FALSE: skipped, its PBKDF is over the limits */
	gint result;        /* >= 0: opened (the slot); else -errno from libcryptsetup,
			      * -E2BIG / -ENOMEM when not tried, -ETIMEDOUT when the
			      * trial time ran out during this attempt */
	gint64 duration_us; /* wall time of the attempt (one PBKDF) */
} MuKeyTrial;

void mu_key_trial_free (MuKeyTrial *trial);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuKeyTrial, mu_key_trial_free)

/* "opened", "wrong key", "no such keyslot", "not enough memory for the PBKDF", ... */
const gchar *mu_key_trial_result_to_string (gint result);

/*
 * Why each key failed, one clause per key id, for messages and the journal:
 * "'main-2026' (wrong key for its slot 0 and 2 other slots), 'old' (wrong key
 * for 3 slots)". At most about @max_len bytes (0: no limit); names no key
 * bytes. Keys that were never tried are not listed.
 */
gchar *mu_key_trials_summarize (GPtrArray *trials, gsize max_len) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Tries @keys (MuKey*) check-only until one opens a keyslot: first each key
 * against the slot(s) whose token names its id, in the order of @keys; then
 * every key against every other active keyslot (slots without a token first),
 * so bundles without tokens still open. Slots over the PBKDF limits are
 * skipped (recorded, not tried). Each attempt is appended to @trials
 * (MuKeyTrial*, may be NULL; give it mu_key_trial_free as free func), on
 * failure too. On success sets @out_slot and @out_key (a pointer into @keys)
 * and keeps the volume key the trial produced for mu_bundle_activate().
 *
 * Before any PBKDF the header's encryption is checked against the format
 * (mu_bundle_check_encryption). Each PBKDF runs in a thread of its own, on a
 * crypt_device of its own that must read the same header: cancelling or
 * running out of trial time returns at once (within ~10 ms); an abandoned
 * PBKDF finishes in the background (at most one keyslot's cost, bounded by the
 * limits) and then frees and wipes what it held.
 * Errors: MU_ERROR_NO_KEY (naming the key ids tried and why each failed, or that
 * the trial time ran out), MU_ERROR_CANCELLED, MU_ERROR_CORRUPT_BUNDLE and
 * MU_ERROR_UNSUPPORTED_FORMAT (encryption outside the format).
 */
gboolean mu_bundle_try_keys (MuBundle *bundle, GPtrArray *keys, GPtrArray *trials,
			     GCancellable *cancellable, gint *out_slot, const MuKey **out_key,
			     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Activates the data segment as device-mapper @name with the volume key of the
 * last successful mu_bundle_try_keys(), so the keyslot's PBKDF does not run a
 * second time. Read-only, private (udev rules neither probe nor publish the
 * cleartext), header flags ignored. MU_ERROR_FAILED if it cannot.
 */
gboolean mu_bundle_activate (MuBundle *bundle, const gchar *name,
			     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* ---- Pure checks, exported for tests and fuzzing ---- */

/*
 * The header JSON (crypt_dump_json) and the volume key size
 * (crypt_get_volume_key_size) against the format's encryption: one data
 * segment in MU_BUNDLE_CIPHER or one of @extra_ciphers, MU_BUNDLE_SECTOR_SIZE,
 * no integrity; every keyslot of type luks2 whose area is encrypted with one of
 * those ciphers. Volume and keyslot area keys: MU_BUNDLE_KEY_BYTES for
 * MU_BUNDLE_CIPHER, at least 32 bytes for the others.
 * MU_ERROR_CORRUPT_BUNDLE for what no bundle maker writes (cipher_null, a
 * malformed header); MU_ERROR_UNSUPPORTED_FORMAT for a real cipher, key size,
 * sector size or integrity mode the device does not accept.
 */
gboolean mu_bundle_check_encryption (GBytes *header_json, guint volume_key_size,
				     const gchar *const *extra_ciphers,
				     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Label and subsystem -> format version (1 or 2), or NOT_A_BUNDLE / UNSUPPORTED_FORMAT. */
gboolean mu_bundle_check_label (const gchar *label, const gchar *subsystem, guint *out_version,
				GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Formats a device accepts ([Bundle] Formats= in mediaupd.conf): a bit per version,
 * MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2). Format v1 is not authenticated
 * before the kernel parses its decrypted image, so it is off by default.
 */
#define MU_BUNDLE_FORMAT_BIT(version) (1u << (version))
#define MU_BUNDLE_FORMATS_DEFAULT MU_BUNDLE_FORMAT_BIT (2)

/* A bundle of format @version under the accepted @formats; MU_ERROR_UNSUPPORTED_FORMAT
 * saying what to do if not. @name says which bundle in the message. */
gboolean mu_bundle_check_format_allowed (const gchar *name, guint version, guint formats,
					 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* A token's JSON -> its key id. MU_ERROR_CORRUPT_BUNDLE unless it is a
 * {"type":"mediaupd-keyid","key_id":"VALID-ID",...} object. */
gboolean mu_bundle_parse_keyid_token (GBytes *json, gchar **out_key_id,
				      GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
