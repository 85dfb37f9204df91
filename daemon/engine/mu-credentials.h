/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-key.h"

G_BEGIN_DECLS

/*
 * Device keys sealed at rest as systemd credentials: a key directory may hold ID.cred, the
 * key's bytes encrypted by `systemd-creds encrypt --name=ID` with the host key
 * (/var/lib/systemd/credential.secret, or the file $SYSTEMD_CREDENTIAL_SECRET names), with
 * the device's TPM2, or with both. The key is decrypted only when it is needed, by
 * `systemd-creds decrypt --name=ID - -` on the file's contents (read and checked here, so
 * that the file checked is the one decrypted), whose standard output is read straight into
 * secret memory (mu-secret.h): the plain key is never written to any file. systemd-creds
 * checks the name sealed in the credential, so a credential renamed to another id does
 * not decrypt.
 */

#define MU_CREDENTIAL_SUFFIX ".cred"
/* What `keys seal` writes before it renames it to ID.cred; never loaded. */
#define MU_CREDENTIAL_TMP_SUFFIX ".cred.tmp"
/* A credential file is base64 text of a few hundred bytes (a TPM2 one a few KiB). */
#define MU_CREDENTIAL_FILE_MAX_SIZE ((gsize) 64 * 1024)

/* What a credential is sealed with, as its header says (systemd's credential format). */
typedef enum {
	MU_CREDENTIAL_SEAL_UNKNOWN = 0, /* not a credential systemd 252..257 writes */
	MU_CREDENTIAL_SEAL_HOST,
	MU_CREDENTIAL_SEAL_TPM2,
	MU_CREDENTIAL_SEAL_HOST_TPM2,
	/* --with-key=tpm2-absent / null: no secret at all, so it protects nothing */
	MU_CREDENTIAL_SEAL_NONE,
} MuCredentialSeal;

/* "host", "tpm2", "host+tpm2", "none", "unknown". */
const gchar *mu_credential_seal_to_string (MuCredentialSeal seal);

/* The seal of a credential file's @contents (parsing only, no I/O). */
MuCredentialSeal mu_credential_seal_from_bytes (GBytes *contents);

/* The seal of the credential file @path; MU_CREDENTIAL_SEAL_UNKNOWN if it cannot be read. */
MuCredentialSeal mu_credential_seal_of_file (const gchar *path);

/* TRUE for the --with-key= values `keys seal` accepts: host, tpm2, host+tpm2, auto. */
gboolean mu_credential_with_key_is_valid (const gchar *with_key);

/*
 * Decrypts the sealed key @path (DIR/ID.cred; the id is the file name without ".cred").
 * With MU_KEY_LOAD_REQUIRE_PRIVATE the file must be a regular file owned by root (or the
 * caller) that others cannot change. Errors: MU_ERROR_NOT_FOUND, MU_ERROR_KEY_PERMISSIONS,
 * MU_ERROR_INVALID_KEY (a bad name, sealed with no key, or it does not decrypt here: another
 * TPM, another host key, changed), MU_ERROR_IO (systemd-creds cannot be run).
 */
MuKey *mu_credential_load_key (const gchar *path, MuKeyLoadFlags flags,
			       GError **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * Seals @key into DIR/ID.cred (ID: the key's id), replacing one that is there, without a
 * plain file: the credential is written to ID.cred.tmp and flushed, read back and checked
 * to decrypt to the same key, renamed to ID.cred and the directory flushed. A crash leaves
 * the old ID.cred (or none) and perhaps a stale ID.cred.tmp, never a broken ID.cred. For
 * keys that arrive in an update. @with_key: see mu_credential_with_key_is_valid().
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_credential_write_key (const gchar *dir, const MuKey *key, const gchar *with_key,
				  GError **error);

/*
 * Seals the plain key DIR/ID.key into DIR/ID.cred (mu_credential_write_key()) and only
 * then removes the plain file (and flushes the directory again), so that a crash at any
 * point leaves a usable key.
 * An ID.cred already there that decrypts to the same bytes only completes the removal;
 * one that holds another key or does not decrypt is left alone, with both files, and
 * refused (MU_ERROR_INVALID_KEY, saying what to do).
 * @with_key: see mu_credential_with_key_is_valid().
 */
G_GNUC_WARN_UNUSED_RESULT
gboolean mu_credential_seal_key_file (const gchar *dir, const gchar *id, const gchar *with_key,
				      GError **error);

G_END_DECLS
