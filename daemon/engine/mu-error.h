/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The one public error domain of mediaupd. Every refusal has its own code, so
 * that the CLI, the journal and D-Bus clients (as org.mediaupd.Error.NAME) can
 * tell them apart. Codes are stable: append, never renumber.
 */
#define MU_ERROR (mu_error_quark ())

typedef enum {
	MU_ERROR_FAILED,             /* Failed: anything not covered below */
	MU_ERROR_INVALID_ARGUMENT,   /* InvalidArgument: bad option or input from the caller */
	MU_ERROR_NOT_FOUND,          /* NotFound: a named file or object does not exist */
	MU_ERROR_IO,                 /* Io: reading or writing failed */
	MU_ERROR_INVALID_KEY,        /* InvalidKey: malformed key file or key of wrong length */
	MU_ERROR_KEY_PERMISSIONS,    /* KeyPermissions: key file readable by others than root */
	MU_ERROR_NOT_A_BUNDLE,       /* NotABundle: not LUKS2, or not a mediaupd bundle */
	MU_ERROR_UNSUPPORTED_FORMAT, /* UnsupportedFormat: a mediaupd bundle of an unknown version */
	MU_ERROR_CORRUPT_BUNDLE,     /* CorruptBundle: damaged header, truncated container */
	MU_ERROR_NO_KEY,             /* NoKey: none of the device's keys opens the bundle */
	MU_ERROR_UNSIGNED,           /* Unsigned: the delta carries no ed25519 signature */
	MU_ERROR_SIGNATURE_INVALID, /* SignatureInvalid: no signature verifies with a trusted key */
	MU_ERROR_KEY_REVOKED,       /* KeyRevoked: the only verifying key is revoked */
	MU_ERROR_NO_TRUSTED_KEYS,   /* NoTrustedKeys: the device has no usable trusted key */
	MU_ERROR_WRONG_OS,          /* WrongOs: the update is for another OS, ref or collection */
	MU_ERROR_DOWNGRADE,         /* Downgrade: the update is older than what runs */
	MU_ERROR_MISSING_FROM_COMMIT, /* MissingFromCommit: the delta needs a commit the device lacks */
	MU_ERROR_NO_SPACE,            /* NoSpace: not enough free space to apply */
	MU_ERROR_CORRUPT_DELTA,     /* CorruptDelta: the delta does not decode or does not match */
	MU_ERROR_MEDIA_REMOVED,     /* MediaRemoved: the stick went away during the update */
	MU_ERROR_BUSY,              /* Busy: another update is running */
	MU_ERROR_CANCELLED,         /* Cancelled: the update was stopped */
	MU_ERROR_CONFIG,            /* Config: the configuration file is invalid */
	MU_ERROR_ALREADY_INSTALLED, /* AlreadyInstalled: the bundle holds the booted commit */
	MU_ERROR_NOT_RUNNING,       /* NotRunning: no install to act on (Cancel when idle) */
	MU_ERROR_WORKER_FAILED,     /* WorkerFailed: the install process died without a result */
	MU_ERROR_SUPERSEDED,        /* Superseded: a newer bundle on the same medium was chosen */
	MU_ERROR_BLACKLISTED,       /* Blacklisted: the update's commit failed to boot before */
	MU_ERROR_CORRUPT_BOOT_ENV,  /* CorruptBootEnv: the boot loader's environment is damaged */
	MU_ERROR_LAST
} MuErrorCode;

GQuark mu_error_quark (void);

/* "SignatureInvalid" etc.; the D-Bus error is "org.mediaupd.Error." + this name. */
const gchar *mu_error_code_to_name (MuErrorCode code);

#define MU_ERROR_DBUS_PREFIX "org.mediaupd.Error."

/*
 * Maps every code to "org.mediaupd.Error." + its name in GDBus, both ways: the daemon
 * returns typed errors, and a client's proxy calls fail with MU_ERROR codes. Idempotent.
 */
void mu_error_register_dbus (void);

/*
 * What errors of the system and of the libraries below mean in MU_ERROR, in one table:
 * a missing file is NotFound, a full disk NoSpace, a cancelled operation Cancelled.
 */

/* The code for a failed system call's errno: MU_ERROR_IO when no other code fits. */
MuErrorCode mu_error_code_from_errno (int err);

/* The code for an error of G_IO_ERROR or G_FILE_ERROR (or MU_ERROR, its own code); FALSE
 * when no code of MU_ERROR says more than the error itself. */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_error_code_from_gerror (const GError *error, MuErrorCode *ret_code);

/* Sets @error to the message made of @format, ": " and the text of @err, with the code
 * mu_error_code_from_errno() gives. */
void mu_error_set_errno (GError **error, int err, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
