/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sealed device keys through systemd-creds(1). Why the command and not the service's
 * $CREDENTIALS_DIRECTORY (LoadCredentialEncrypted=): systemd decrypts those once, when the
 * daemon starts, into a ramfs that then holds every plain key for as long as the daemon
 * runs, and a key sealed afterwards ('mediaupdctl keys seal') is not there until a restart.
 * Decrypting in the install's worker, key by key, keeps the plain bytes in that process's
 * locked, non-dumpable memory for the install only, needs nothing from systemd as PID 1,
 * and works the same for `mediaupdctl apply --local` and the host tests. What the sandbox
 * of mediaupd.service must allow for it: reading /var/lib/systemd/credential.secret
 * (ProtectSystem=strict leaves it readable) and, for TPM2 seals, /dev/tpmrm0
 * (DeviceAllow=).
 */
#include "config.h"

#include "mu-credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-escape.h"
#include "mu-file.h"

#define SYSTEMD_CREDS "systemd-creds"
/* What systemd-creds says on stderr is kept for the message, cut to this. */
#define STDERR_MAX_LEN 1024

/* The header of a credential: base64 of a 128-bit id that names the seal, then sizes. The
 * ids are systemd's (src/shared/creds-util.h). */
static const struct {
	const gchar *id;
	MuCredentialSeal seal;
} seal_ids[] = {
	{ "5a1c6a86df9d4096b1d5a65e0862f19a", MU_CREDENTIAL_SEAL_HOST },
	{ "55b9ed1d38594d43a8319d2ebb332ac6", MU_CREDENTIAL_SEAL_HOST }, /* user-scoped */
	{ "0c7cc07b117645919c4b0bea08bc20fe", MU_CREDENTIAL_SEAL_TPM2 },
	{ "faf7eb9341e3412ca1a436f95a29362f", MU_CREDENTIAL_SEAL_TPM2 }, /* with a PCR key */
	{ "93a894094874449090caf2fc93cab553", MU_CREDENTIAL_SEAL_HOST_TPM2 },
	{ "ef4ac13679a9480ea7db68897f9f165d", MU_CREDENTIAL_SEAL_HOST_TPM2 }, /* user-scoped */
	{ "af4950a849134eb1a73846304ff30c05", MU_CREDENTIAL_SEAL_HOST_TPM2 }, /* with a PCR key */
	{ "058469daf6f54324800549da0f8ea2fb", MU_CREDENTIAL_SEAL_NONE },
};

const gchar *
mu_credential_seal_to_string (MuCredentialSeal seal)
{
	switch (seal) {
	case MU_CREDENTIAL_SEAL_HOST:
		return "host";
	case MU_CREDENTIAL_SEAL_TPM2:
		return "tpm2";
	case MU_CREDENTIAL_SEAL_HOST_TPM2:
		return "host+tpm2";
	case MU_CREDENTIAL_SEAL_NONE:
		return "none";
	case MU_CREDENTIAL_SEAL_UNKNOWN:
	default:
		return "unknown";
	}
}

MuCredentialSeal
mu_credential_seal_from_bytes (GBytes *contents)
{
	/* 24 base64 characters are 18 bytes: the 16 of the id and two more. */
	gchar head[25] = { 0 };
	g_autofree guchar *raw = NULL;
	g_autofree gchar *hex = NULL;
	const gchar *data;
	gsize len = 0;
	gsize raw_len = 0;

	g_return_val_if_fail (contents != NULL, MU_CREDENTIAL_SEAL_UNKNOWN);

	data = g_bytes_get_data (contents, &len);
	if (len < sizeof head - 1)
		return MU_CREDENTIAL_SEAL_UNKNOWN;
	for (gsize i = 0; i < sizeof head - 1; i++) {
		if (!g_ascii_isalnum (data[i]) && data[i] != '+' && data[i] != '/')
			return MU_CREDENTIAL_SEAL_UNKNOWN;
		head[i] = data[i];
	}
	raw = g_base64_decode (head, &raw_len);
	if (raw_len < 16)
		return MU_CREDENTIAL_SEAL_UNKNOWN;
	hex = g_malloc0 (33);
	for (gsize i = 0; i < 16; i++)
		g_snprintf (hex + 2 * i, 3, "%02x", raw[i]);
	for (gsize i = 0; i < G_N_ELEMENTS (seal_ids); i++) {
		if (g_str_equal (seal_ids[i].id, hex))
			return seal_ids[i].seal;
	}
	return MU_CREDENTIAL_SEAL_UNKNOWN;
}

MuCredentialSeal
mu_credential_seal_of_file (const gchar *path)
{
	g_autoptr (GBytes) contents = NULL;

	contents = mu_file_read_regular (path, MU_CREDENTIAL_FILE_MAX_SIZE, MU_FILE_NOFOLLOW,
					 MU_ERROR_INVALID_KEY, NULL);
	if (contents == NULL)
		return MU_CREDENTIAL_SEAL_UNKNOWN;
	return mu_credential_seal_from_bytes (contents);
}

gboolean
mu_credential_with_key_is_valid (const gchar *with_key)
{
	static const gchar *const valid[] = { "host", "tpm2", "host+tpm2", "auto", NULL };

	return with_key != NULL && g_strv_contains (valid, with_key);
}

/* "dir/main-2026.cred" -> "main-2026"; NULL if that is no valid key id. */
static gchar *
id_from_path (const gchar *path)
{
	g_autofree gchar *base = g_path_get_basename (path);

	if (!g_str_has_suffix (base, MU_CREDENTIAL_SUFFIX))
		return NULL;
	base[strlen (base) - strlen (MU_CREDENTIAL_SUFFIX)] = '\0';
	if (!mu_key_id_is_valid (base))
		return NULL;
	return g_steal_pointer (&base);
}

/* The last line systemd-creds wrote to stderr, escaped, for a message. */
static gchar *
read_stderr (GSubprocess *proc)
{
	GInputStream *err = g_subprocess_get_stderr_pipe (proc);
	g_autofree gchar *buf = g_malloc0 (STDERR_MAX_LEN + 1);
	g_auto (GStrv) lines = NULL;
	gsize len = 0;
	guint n;

	if (!g_input_stream_read_all (err, buf, STDERR_MAX_LEN, &len, NULL, NULL))
		return g_strdup ("(no message)");
	buf[len] = '\0';
	g_strstrip (buf);
	lines = g_strsplit (buf, "\n", -1);
	n = g_strv_length (lines);
	if (n == 0 || lines[n - 1][0] == '\0')
		return g_strdup ("(no message)");
	return mu_escape_untrusted (lines[n - 1]);
}

/* Waits for @proc; unless it exited 0, FALSE with @code, @what, systemd-creds' own message
 * and @advice. */
static gboolean
wait_creds (GSubprocess *proc, MuErrorCode code, const gchar *what, const gchar *advice,
	    GError **error)
{
	g_autofree gchar *message = read_stderr (proc);
	g_autoptr (GError) wait_error = NULL;

	if (!g_subprocess_wait (proc, NULL, &wait_error)) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "%s: waiting for systemd-creds: %s",
			     what, wait_error->message);
		return FALSE;
	}
	if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY, "%s (systemd-creds: %s)%s",
			     what, message, advice);
		return FALSE;
	}
	return TRUE;
}

static GSubprocess *
spawn_creds (const gchar *const *argv, GSubprocessFlags flags, GError **error)
{
	g_autoptr (GError) spawn_error = NULL;
	g_autofree gchar *line = g_strjoinv (" ", (GStrv) argv);
	GSubprocess *proc;

	g_debug ("keys: running %s", line);
	proc = g_subprocess_newv (argv, flags | G_SUBPROCESS_FLAGS_STDERR_PIPE, &spawn_error);
	if (proc == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO,
			     "cannot run %s (%s): sealed keys need systemd-creds from systemd 250 "
			     "or later",
			     SYSTEMD_CREDS, spawn_error->message);
		return NULL;
	}
	return proc;
}

/*
 * Runs `systemd-creds decrypt --name=ID - -` on @contents (what was read from @path, whose
 * checks were made on that very file) and reads its output into a key.
 */
static MuKey *
decrypt_key (const gchar *path, const gchar *id, GBytes *contents, GError **error)
{
	g_autofree gchar *name_arg = g_strdup_printf ("--name=%s", id);
	const gchar *argv[] = {
		SYSTEMD_CREDS, "decrypt", name_arg, "--newline=no", "-", "-", NULL,
	};
	g_autofree gchar *what = g_strdup_printf ("Sealed key '%s'", path);
	g_autofree gchar *failed =
		g_strdup_printf ("Sealed key '%s' does not decrypt on this device", path);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (MuSecret) secret = NULL;
	g_autoptr (GError) io_error = NULL;
	GOutputStream *in;
	GInputStream *out;
	gsize len = 0;
	gboolean io_ok;

	proc = spawn_creds (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
			    error);
	if (proc == NULL)
		return NULL;
	/* systemd-creds reads all of its input before it writes anything. */
	in = g_subprocess_get_stdin_pipe (proc);
	io_ok = g_output_stream_write_all (in, g_bytes_get_data (contents, NULL),
					   g_bytes_get_size (contents), NULL, NULL, &io_error) &&
		g_output_stream_close (in, NULL, &io_error);
	/* Straight from the pipe into the key's secret pages; one byte more than the longest
	 * key tells a too long one. Closing the pipe then stops a writer that has more. */
	secret = mu_secret_new (MU_KEY_BUFFER_LEN);
	out = g_subprocess_get_stdout_pipe (proc);
	if (io_ok)
		io_ok = mu_file_read_into (g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (out)),
					   what, secret->data, secret->len, &len, &io_error);
	g_input_stream_close (out, NULL, NULL);
	if (!wait_creds (proc, MU_ERROR_INVALID_KEY, failed,
			 ": it was sealed with another TPM or host key, or changed since; seal "
			 "the plain key again here with 'mediaupdctl keys seal', or remove it",
			 error))
		return NULL;
	if (!io_ok) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "%s: talking to systemd-creds: %s", what,
			     io_error->message);
		return NULL;
	}
	return mu_key_new_take_secret (id, g_steal_pointer (&secret), len, what, error);
}

MuKey *
mu_credential_load_key (const gchar *path, MuKeyLoadFlags flags, GError **error)
{
	g_autofree gchar *id = NULL;
	g_autoptr (GBytes) contents = NULL;
	struct stat st;
	int fd;

	g_return_val_if_fail (path != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	id = id_from_path (path);
	if (id == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "Sealed key name '%s' gives no valid key id: name it ID.cred, where ID "
			     "is 1 to %d characters of A-Z a-z 0-9 . _ - not starting with '.'",
			     path, MU_KEY_ID_MAX_LEN);
		return NULL;
	}
	fd = mu_file_open_regular (path, MU_FILE_NOFOLLOW, MU_ERROR_INVALID_KEY, &st, error);
	if (fd < 0)
		return NULL;
	contents = mu_file_read_fd (fd, path, MU_CREDENTIAL_FILE_MAX_SIZE, MU_FILE_NONE,
				    MU_ERROR_INVALID_KEY, error);
	close (fd);
	if (contents == NULL)
		return NULL;
	/* The ciphertext is no secret, but who may replace it chooses the key. */
	if ((flags & MU_KEY_LOAD_REQUIRE_PRIVATE) != 0 &&
	    ((st.st_uid != 0 && st.st_uid != geteuid ()) || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
		g_set_error (error, MU_ERROR, MU_ERROR_KEY_PERMISSIONS,
			     "Sealed key '%s' (owner uid %u, mode %04o) may be replaced by others "
			     "than root; make it root's and private with 'chown root: %s; chmod "
			     "0600 %s'",
			     path, (guint) st.st_uid, (guint) (st.st_mode & 07777), path, path);
		return NULL;
	}
	if (mu_credential_seal_from_bytes (contents) == MU_CREDENTIAL_SEAL_NONE) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
			     "Sealed key '%s' is sealed with no key at all (tpm2-absent), so it "
			     "protects nothing; seal it again with --with-key=host, tpm2 or "
			     "host+tpm2",
			     path);
		return NULL;
	}
	return decrypt_key (path, id, contents, error);
}

/* Runs `systemd-creds encrypt --name=ID --with-key=WITH - -` on @key's bytes. */
static GBytes *
encrypt_key (const MuKey *key, const gchar *with_key, GError **error)
{
	g_autofree gchar *name_arg = g_strdup_printf ("--name=%s", key->id);
	g_autofree gchar *with_arg = g_strdup_printf ("--with-key=%s", with_key);
	const gchar *argv[] = { SYSTEMD_CREDS, "encrypt", name_arg, with_arg, "-", "-", NULL };
	g_autofree gchar *what = g_strdup_printf ("Sealing key '%s'", key->id);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GOutputStream) in = NULL;
	g_autoptr (GBytes) sealed = NULL;
	g_autoptr (GError) io_error = NULL;
	GInputStream *out;
	gboolean wrote;

	proc = spawn_creds (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
			    error);
	if (proc == NULL)
		return NULL;
	/* From the key's own pages into the pipe: a key is far smaller than a pipe's buffer. */
	in = g_object_ref (g_subprocess_get_stdin_pipe (proc));
	wrote = g_output_stream_write_all (in, key->data, key->len, NULL, NULL, &io_error) &&
		g_output_stream_close (in, NULL, &io_error);
	out = g_subprocess_get_stdout_pipe (proc);
	if (wrote)
		sealed = g_input_stream_read_bytes (out, MU_CREDENTIAL_FILE_MAX_SIZE, NULL,
						    &io_error);
	g_input_stream_close (out, NULL, NULL);
	if (!wait_creds (proc, MU_ERROR_FAILED, what,
			 ": check that this device has the host key (systemd-creds setup) or "
			 "the TPM2 that --with-key asks for (systemd-creds has-tpm2)",
			 error))
		return NULL;
	if (sealed == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "%s: talking to systemd-creds: %s", what,
			     io_error->message);
		return NULL;
	}
	if (g_bytes_get_size (sealed) == 0 ||
	    g_bytes_get_size (sealed) >= MU_CREDENTIAL_FILE_MAX_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO,
			     "%s: systemd-creds wrote %" G_GSIZE_FORMAT " bytes, not a credential",
			     what, g_bytes_get_size (sealed));
		return NULL;
	}
	return g_steal_pointer (&sealed);
}

static gboolean
fsync_dir (const gchar *dir, GError **error)
{
	int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0 || fsync (fd) != 0) {
		saved = errno;
		if (fd >= 0)
			close (fd);
		g_set_error (error, MU_ERROR, mu_error_code_from_errno (saved),
			     "cannot flush the key directory %s: %s", dir, g_strerror (saved));
		return FALSE;
	}
	close (fd);
	return TRUE;
}

/* @data into a new file @path (0600, never through a symlink), flushed to disk. */
static gboolean
write_new_file (const gchar *path, GBytes *data, GError **error)
{
	gsize len = 0;
	const guint8 *p = g_bytes_get_data (data, &len);
	int fd;
	int saved = 0;

	fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved = errno;
		g_set_error (error, MU_ERROR, mu_error_code_from_errno (saved),
			     "cannot create %s: %s", path, g_strerror (saved));
		return FALSE;
	}
	while (len > 0) {
		ssize_t n = write (fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved = n < 0 ? errno : EIO;
			break;
		}
		p += n;
		len -= (gsize) n;
	}
	if (saved == 0 && fsync (fd) != 0)
		saved = errno;
	if (close (fd) != 0 && saved == 0)
		saved = errno;
	if (saved != 0) {
		g_set_error (error, MU_ERROR, mu_error_code_from_errno (saved),
			     "cannot write %s: %s", path, g_strerror (saved));
		(void) g_unlink (path);
		return FALSE;
	}
	return TRUE;
}

static gboolean
same_key (const MuKey *a, const MuKey *b)
{
	guint8 diff = 0;

	if (a->len != b->len)
		return FALSE;
	for (gsize i = 0; i < a->len; i++)
		diff |= a->data[i] ^ b->data[i];
	return diff == 0;
}

#if MEDIAUPD_TEST_HOOKS
/* Test builds only: MEDIAUPD_TEST_SEAL_CRASH=STEP ends the process at once after STEP
 * (written, renamed), as a power cut there would. */
static void
test_crash_after (const gchar *step)
{
	if (g_strcmp0 (g_getenv ("MEDIAUPD_TEST_SEAL_CRASH"), step) != 0)
		return;
	g_printerr ("test hook: crashing after step %s of sealing\n", step);
	_exit (70);
}
#else
#define test_crash_after(step)
#endif

/* Removes the plain key once @cred_path holds the same key, sealed. */
static gboolean
remove_plain (const gchar *dir, const gchar *key_path, GError **error)
{
	if (g_unlink (key_path) != 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, mu_error_code_from_errno (saved),
			     "the key is sealed, but the plain file %s could not be removed: %s; "
			     "remove it by hand",
			     key_path, g_strerror (saved));
		return FALSE;
	}
	return fsync_dir (dir, error);
}

gboolean
mu_credential_write_key (const gchar *dir, const MuKey *key, const gchar *with_key, GError **error)
{
	g_autofree gchar *cred_name = NULL;
	g_autofree gchar *tmp_name = NULL;
	g_autofree gchar *cred_path = NULL;
	g_autofree gchar *tmp_path = NULL;
	g_autoptr (MuKey) check = NULL;
	g_autoptr (GBytes) sealed = NULL;

	g_return_val_if_fail (dir != NULL && key != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_credential_with_key_is_valid (with_key)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "--with-key=%s: use host, tpm2, host+tpm2 or auto", with_key);
		return FALSE;
	}
	cred_name = g_strconcat (key->id, MU_CREDENTIAL_SUFFIX, NULL);
	tmp_name = g_strconcat (key->id, MU_CREDENTIAL_TMP_SUFFIX, NULL);
	cred_path = g_build_filename (dir, cred_name, NULL);
	tmp_path = g_build_filename (dir, tmp_name, NULL);
	sealed = encrypt_key (key, with_key, error);
	if (sealed == NULL)
		return FALSE;
	/* A temporary file left by a crash before its rename is only that. */
	if (g_unlink (tmp_path) != 0 && errno != ENOENT) {
		int saved = errno;

		g_set_error (error, MU_ERROR, mu_error_code_from_errno (saved),
			     "cannot remove the stale %s: %s", tmp_path, g_strerror (saved));
		return FALSE;
	}
	if (!write_new_file (tmp_path, sealed, error))
		return FALSE;
	test_crash_after ("written");
	/* What is on disk must decrypt here, under its own name, to the very same key. */
	g_clear_pointer (&sealed, g_bytes_unref);
	sealed = mu_file_read_regular (tmp_path, MU_CREDENTIAL_FILE_MAX_SIZE, MU_FILE_NOFOLLOW,
				       MU_ERROR_IO, error);
	if (sealed != NULL)
		check = decrypt_key (tmp_path, key->id, sealed, error);
	if (check == NULL || !same_key (check, key)) {
		if (check != NULL)
			g_set_error (error, MU_ERROR, MU_ERROR_IO,
				     "%s decrypts to another key than the one sealed; nothing "
				     "changed",
				     tmp_path);
		(void) g_unlink (tmp_path);
		return FALSE;
	}
	if (g_rename (tmp_path, cred_path) != 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, mu_error_code_from_errno (saved),
			     "cannot rename %s to %s: %s", tmp_path, cred_path, g_strerror (saved));
		(void) g_unlink (tmp_path);
		return FALSE;
	}
	return fsync_dir (dir, error);
}

gboolean
mu_credential_seal_key_file (const gchar *dir, const gchar *id, const gchar *with_key,
			     GError **error)
{
	g_autofree gchar *key_name = g_strconcat (id, ".key", NULL);
	g_autofree gchar *cred_name = g_strconcat (id, MU_CREDENTIAL_SUFFIX, NULL);
	g_autofree gchar *key_path = g_build_filename (dir, key_name, NULL);
	g_autofree gchar *cred_path = g_build_filename (dir, cred_name, NULL);
	g_autoptr (MuKey) plain = NULL;
	g_autoptr (MuKey) check = NULL;
	g_autoptr (GError) existing_error = NULL;

	g_return_val_if_fail (dir != NULL && id != NULL, FALSE);
	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!mu_key_id_is_valid (id)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT, "'%s' is no valid key id",
			     id);
		return FALSE;
	}
	if (!mu_credential_with_key_is_valid (with_key)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "--with-key=%s: use host, tpm2, host+tpm2 or auto", with_key);
		return FALSE;
	}
	plain = mu_key_load_file (key_path, MU_KEY_LOAD_REQUIRE_PRIVATE, error);
	if (plain == NULL)
		return FALSE;

	/* A crash after the rename left both files: finish the job if they agree. */
	if (g_file_test (cred_path, G_FILE_TEST_EXISTS)) {
		check = mu_credential_load_key (cred_path, MU_KEY_LOAD_REQUIRE_PRIVATE,
						&existing_error);
		if (check == NULL || !same_key (check, plain)) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_KEY,
				     "%s and %s are both there, and the sealed one %s; keep the "
				     "one that is the device's key and remove the other, then seal "
				     "again",
				     key_path, cred_path,
				     check == NULL ? existing_error->message : "holds another key");
			return FALSE;
		}
		return remove_plain (dir, key_path, error);
	}
	if (!mu_credential_write_key (dir, plain, with_key, error))
		return FALSE;
	test_crash_after ("renamed");
	return remove_plain (dir, key_path, error);
}
