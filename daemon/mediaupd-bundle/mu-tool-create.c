/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/rand.h>

#include "mu-bundle-format.h"
#include "mu-ed25519.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-keyring.h"
#include "mu-signed-delta.h"
#include "mu-signed-header.h"
#include "mu-tool-check.h"
#include "mu-tool-container.h"
#include "mu-tool-crypt.h"
#include "mu-tool-image.h"
#include "mu-tool-luks2.h"
#include "mu-tool.h"

static const gchar create_description[] =
	"Builds an encrypted mediaupd update bundle of format v2 (docs/bundle-format.md) from\n"
	"an OSTree repository, unprivileged (no root, loop device or device-mapper): the static\n"
	"delta, signed; the read-only inner image holding it; the image encrypted into a LUKS2\n"
	"file with one keyslot and key-id token per key; the dm-verity hash tree over the\n"
	"ciphertext; and the signed header (token mediaupd-signed) that binds all of it.\n"
	"Before OUTPUT appears the bundle is checked: every key opens exactly its own keyslot,\n"
	"the signed header and the delta envelope verify with the signing keys, the header\n"
	"matches the LUKS2 header, the hash tree and root hash match the ciphertext, and the\n"
	"ciphertext decrypts to the image, whose files are those that went in.\n"
	"\n"
	"--cipher chooses the data cipher: aes-xts-plain64 (the default) for boards with AES\n"
	"instructions, or adiantum (LUKS2 'xchacha12,aes-adiantum-plain64', the kernel's\n"
	"adiantum(xchacha12,aes), 256-bit key) for boards without them, where it is several\n"
	"times faster. A device accepts adiantum bundles only when its mediaupd.conf lists the\n"
	"cipher in [Unlock] Ciphers=. Keyslots are aes-xts-plain64 either way.\n"
	"\n"
	"Secrets are read from files only. --key ID=FILE (repeatable) or --keys-dir DIR (every\n"
	"DIR/ID.key); without either, $MEDIAUPD_KEYS_DIR. Without --signing-key,\n"
	"$MEDIAUPD_SIGNING_KEY_FILE. Work files go to $TMPDIR (default /tmp).\n"
	"\n"
	"Exit status: 0 written, 1 failed (nothing is left behind), 2 usage error.";

typedef struct {
	gchar *repo;
	gchar *ref;
	gchar *to;
	gchar *from;
	gboolean empty;
	gchar **signing_keys;
	gchar **key_specs;
	gchar *keys_dir;
	gchar *output;
	gboolean force;
	gchar *fs;
	gchar *pbkdf;
	gint pbkdf_iterations;
	gint pbkdf_memory;
	gint pbkdf_parallel;
	gchar *cipher;
	const MuToolCipher *data_cipher;
	gchar *keyslot_room_text;
	gint keyslot_room; /* 0: not given, room for the keys (at least the default) */
} CreateOptions;

static void
create_options_clear (CreateOptions *o)
{
	g_free (o->repo);
	g_free (o->ref);
	g_free (o->to);
	g_free (o->from);
	g_strfreev (o->signing_keys);
	g_strfreev (o->key_specs);
	g_free (o->keys_dir);
	g_free (o->output);
	g_free (o->fs);
	g_free (o->pbkdf);
	g_free (o->cipher);
	g_free (o->keyslot_room_text);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CreateOptions, create_options_clear)

/* One run: the files that must not survive a failure. */
typedef struct {
	gint64 start_us;
	gchar *work_dir;
	gchar *partial;
	int fd;
} CreateRun;

/*
 * SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken by a thread of their own
 * (sigwait), which removes the run's files under this lock and exits; subprocesses get the
 * signals unblocked again (mu_tool_run).
 */
static GMutex run_lock;
static CreateRun *signalled_run;
static sigset_t stop_signals;

static void
remove_run_files (CreateRun *run)
{
	if (run->partial != NULL)
		(void) g_unlink (run->partial);
	if (run->work_dir != NULL && !mu_tool_remove_tree (run->work_dir))
		g_printerr ("%s: warning: cannot remove the work directory '%s'\n",
			    g_get_prgname (), run->work_dir);
}

static gpointer
signal_thread (gpointer data)
{
	int sig = 0;

	if (sigwait (&stop_signals, &sig) != 0)
		return NULL;
	g_mutex_lock (&run_lock);
	if (signalled_run != NULL)
		remove_run_files (signalled_run);
	g_printerr ("%s: stopped by signal %d; no bundle was written\n", g_get_prgname (), sig);
	_exit (128 + sig);
}

static void
catch_stop_signals (CreateRun *run)
{
	sigemptyset (&stop_signals);
	sigaddset (&stop_signals, SIGINT);
	sigaddset (&stop_signals, SIGTERM);
	sigaddset (&stop_signals, SIGHUP);
	pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
	g_mutex_lock (&run_lock);
	signalled_run = run;
	g_mutex_unlock (&run_lock);
	g_thread_unref (g_thread_new ("signals", signal_thread, NULL));
}

static void
create_run_clear (CreateRun *run)
{
	g_mutex_lock (&run_lock);
	if (run->fd >= 0)
		(void) close (run->fd);
	remove_run_files (run);
	g_clear_pointer (&run->partial, g_free);
	g_clear_pointer (&run->work_dir, g_free);
	signalled_run = NULL;
	g_mutex_unlock (&run_lock);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CreateRun, create_run_clear)

static void step (const CreateRun *run, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

/* A progress line on stderr with the time since the start, as the v1 script writes them. */
static void
step (const CreateRun *run, const gchar *format, ...)
{
	g_autofree gchar *text = NULL;
	gint64 us = g_get_monotonic_time () - run->start_us;
	va_list args;

	va_start (args, format);
	text = g_strdup_vprintf (format, args);
	va_end (args);
	g_printerr ("%s: [%6.2f s] %s\n", g_get_prgname (), (gdouble) us / G_USEC_PER_SEC, text);
}

/* ---- inputs ---- */

static gboolean
load_signing_keys (gchar **paths, GPtrArray *keys, GError **error)
{
	for (guint i = 0; paths[i] != NULL; i++) {
		MuEd25519SecretKey *key = NULL;

		if (!mu_tool_check_secret_path ("signing key", paths[i], error))
			return FALSE;
		key = mu_ed25519_secret_key_load (paths[i], error);

		if (key == NULL) {
			g_prefix_error (error, "signing key: ");
			return FALSE;
		}
		g_ptr_array_add (keys, key);
	}
	return TRUE;
}

static gboolean
add_key (GPtrArray *keys, MuKey *key, GError **error)
{
	g_autoptr (MuKey) owned = key;

	for (guint i = 0; i < keys->len; i++) {
		const MuKey *other = g_ptr_array_index (keys, i);

		if (g_str_equal (other->id, key->id)) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "key id '%s' is given twice: give every key its own id",
				     key->id);
			return FALSE;
		}
		/* Two ids for one key would make "each key opens exactly its slot" false. */
		if (other->len == key->len && memcmp (other->data, key->data, key->len) == 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "key ids '%s' and '%s' have the same key bytes: every key id "
				     "needs its own random key (mediaupd-bundle keygen --luks FILE)",
				     other->id, key->id);
			return FALSE;
		}
	}
	g_ptr_array_add (keys, g_steal_pointer (&owned));
	return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
	return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

static gboolean
load_keys_dir (const gchar *dir, GPtrArray *keys, GError **error)
{
	g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
	g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
	const gchar *name;

	if (d == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "keys directory '%s' does not exist or cannot be read (give a "
			     "directory holding ID.key files)",
			     dir);
		return FALSE;
	}
	while ((name = g_dir_read_name (d)) != NULL) {
		if (g_str_has_suffix (name, ".key"))
			g_ptr_array_add (names, g_strdup (name));
	}
	g_ptr_array_sort (names, compare_names);
	for (guint i = 0; i < names->len; i++) {
		const gchar *file = g_ptr_array_index (names, i);
		g_autofree gchar *id = g_strndup (file, strlen (file) - strlen (".key"));
		g_autofree gchar *path = g_build_filename (dir, file, NULL);
		MuKey *key = mu_tool_load_key (id, path, error);

		if (key == NULL || !add_key (keys, key, error)) {
			g_prefix_error (error, "from %s: ", dir);
			return FALSE;
		}
	}
	if (keys->len == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "keys directory '%s' holds no ID.key file (put each encryption key "
			     "in DIR/ID.key, e.g. main-2026.key)",
			     dir);
		return FALSE;
	}
	return TRUE;
}

/* The keyslots the header has room for: --keyslot-room, or enough for the keys given. */
static guint
keyslot_room (const CreateOptions *o, guint n_keys)
{
	if (o->keyslot_room != 0)
		return (guint) o->keyslot_room;
	return MAX (n_keys, (guint) MU_BUNDLE_V2_KEYSLOT_ROOM_DEFAULT);
}

static gboolean
load_keys (const CreateOptions *o, GPtrArray *keys, GError **error)
{
	if (o->keys_dir != NULL) {
		if (!load_keys_dir (o->keys_dir, keys, error))
			return FALSE;
	} else {
		for (guint i = 0; o->key_specs[i] != NULL; i++) {
			MuKey *key = mu_tool_load_key_spec (o->key_specs[i], error);

			if (key == NULL || !add_key (keys, key, error))
				return FALSE;
		}
	}
	if (keys->len > MU_BUNDLE_V2_MAX_KEYS) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "%u encryption keys given, a bundle holds at most %d: drop retired "
			     "keys, or make one bundle per group of devices",
			     keys->len, MU_BUNDLE_V2_MAX_KEYS);
		return FALSE;
	}
	if (keys->len > keyslot_room (o, keys->len)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "%u encryption keys given, more than the %d keyslots of room: raise "
			     "--keyslot-room (at most %d)",
			     keys->len, keyslot_room (o, keys->len), MU_BUNDLE_MAX_KEYSLOTS);
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_output (const CreateOptions *o, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname (o->output);

	if (g_file_test (o->output, G_FILE_TEST_IS_DIR)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "--output '%s' is a directory: give a file name, e.g. '%s/%s'",
			     o->output, o->output, MU_BUNDLE_DEFAULT_NAME);
		return FALSE;
	}
	if (!g_file_test (dir, G_FILE_TEST_IS_DIR) || access (dir, W_OK | X_OK) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "cannot write into the directory '%s' of --output: create it or choose "
			     "a writable place",
			     dir);
		return FALSE;
	}
	if (!o->force && mu_tool_path_exists (o->output)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "'%s' exists already: remove it, choose another --output, or add "
			     "--force to replace it",
			     o->output);
		return FALSE;
	}
	return TRUE;
}

static gboolean
start_run (const CreateOptions *o, CreateRun *run, GError **error)
{
	g_autofree gchar *partial = g_strconcat (o->output, ".partial", NULL);

	g_autofree gchar *work_dir = g_dir_make_tmp ("mediaupd-bundle.XXXXXXXX", error);
	int fd;

	g_mutex_lock (&run_lock);
	run->work_dir = g_steal_pointer (&work_dir);
	g_mutex_unlock (&run_lock);
	if (run->work_dir == NULL) {
		g_prefix_error (error, "cannot create a work directory (set TMPDIR to a writable "
				       "directory with room for 3x the delta): ");
		return FALSE;
	}
	fd = open (partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int errsv = errno;

		mu_error_set_errno (error, errsv, "cannot create '%s'%s", partial,
				    errsv == EEXIST ? " (another run may be writing it; if not, "
						      "remove it)"
						    : "");
		return FALSE;
	}
	g_mutex_lock (&run_lock);
	run->fd = fd;
	run->partial = g_steal_pointer (&partial);
	g_mutex_unlock (&run_lock);
	return TRUE;
}

/* ---- the pieces ---- */

static gchar *
work_path (const CreateRun *run, const gchar *name)
{
	return g_build_filename (run->work_dir, name, NULL);
}

static gboolean
write_manifest (const CreateOptions *o, const MuToolCommits *c, const gchar *path, GError **error)
{
	g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
	g_autofree gchar *created = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
	g_autoptr (GString) m = g_string_new (NULL);

	g_string_append (m, "# mediaupd bundle manifest: informational only. A device never "
			    "decides from it;\n# it trusts only the signed header and the signed "
			    "delta superblock.\n");
	g_string_append_printf (m, "format-version=%d\n", MU_BUNDLE_FORMAT_V2);
	g_string_append_printf (m, "os=%s\n", c->os_pretty != NULL ? c->os_pretty : "");
	g_string_append_printf (m, "ref=%s\n", c->ref);
	g_string_append_printf (m, "from-commit=%s\n",
				c->from_commit != NULL ? c->from_commit : "");
	g_string_append_printf (m, "from-version=%s\n",
				c->from_version != NULL ? c->from_version : "");
	g_string_append_printf (m, "to-commit=%s\n", c->to_commit);
	g_string_append_printf (m, "to-version=%s\n", c->to_version != NULL ? c->to_version : "");
	g_string_append_printf (m, "update-type=%s\n", c->from_commit != NULL ? "delta" : "full");
	g_string_append_printf (m, "created=%s\n", created);
	g_string_append_printf (m, "tool=mediaupd-bundle create %s\n", PACKAGE_VERSION);
	g_string_append_printf (m, "filesystem=%s\n", o->fs);
	return g_file_set_contents (path, m->str, (gssize) m->len, error);
}

/* The delta in ROOT/delta, its superblock signed; returns the unsigned superblock. */
static GBytes *
make_delta (const CreateRun *run, MuToolCommits *commits, GPtrArray *signing_keys,
	    guint *ret_n_parts, GBytes **ret_signed, GError **error)
{
	g_autofree gchar *root = work_path (run, "root");
	g_autofree gchar *delta_dir = g_build_filename (root, MU_BUNDLE_DELTA_DIR, NULL);
	g_autofree gchar *superblock_path = g_build_filename (delta_dir, MU_BUNDLE_SUPERBLOCK,
							      NULL);
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (GBytes) signed_superblock = NULL;

	if (g_mkdir_with_parents (delta_dir, 0755) != 0) {
		mu_error_set_errno (error, errno, "cannot create '%s'", delta_dir);
		return NULL;
	}
	step (run, "generating the delta %s -> %s",
	      commits->from_commit != NULL ? commits->from_commit : "empty", commits->to_commit);
	if (!mu_tool_generate_delta (commits, delta_dir, ret_n_parts, error))
		return NULL;
	superblock = mu_file_read_regular (superblock_path, MU_SIGNED_DELTA_MAX_SIZE, MU_FILE_NONE,
					   MU_ERROR_FAILED, error);
	if (superblock == NULL)
		return NULL;
	step (run, "signing the delta superblock with %u key(s)", signing_keys->len);
	signed_superblock = mu_signed_delta_sign (superblock,
						  (MuEd25519SecretKey **) signing_keys->pdata,
						  signing_keys->len, error);
	if (signed_superblock == NULL ||
	    !g_file_set_contents (superblock_path, g_bytes_get_data (signed_superblock, NULL),
				  (gssize) g_bytes_get_size (signed_superblock), error)) {
		g_prefix_error (error, "signing the delta: ");
		return NULL;
	}
	*ret_signed = g_steal_pointer (&signed_superblock);
	return g_steal_pointer (&superblock);
}

static GBytes *
random_bytes (gsize len, GError **error)
{
	g_autofree guint8 *data = g_malloc (len);

	if (RAND_bytes (data, (int) len) != 1) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "no random bytes from OpenSSL");
		return NULL;
	}
	return g_bytes_new_take (g_steal_pointer (&data), len);
}

static MuSecret *
random_volume_key (gsize len, GError **error)
{
	g_autoptr (MuSecret) key = mu_secret_new (len);

	if (key == NULL || RAND_priv_bytes (key->data, (int) key->len) != 1) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "no volume key: OpenSSL gave no random bytes");
		return NULL;
	}
	return g_steal_pointer (&key);
}

/* ---- self-check ---- */

static gboolean
check_body (const CreateRun *run, const CreateOptions *o, const MuSignedHeader *header,
	    const MuSecret *volume_key, GError **error)
{
	g_autofree gchar *image = work_path (run, "inner.img");
	g_autofree gchar *root = work_path (run, "root");
	g_autofree gchar *readback = work_path (run, "readback");
	int image_fd = open (image, O_RDONLY | O_CLOEXEC);
	gboolean ok;

	if (image_fd < 0) {
		mu_error_set_errno (error, errno, "cannot open '%s'", image);
		return FALSE;
	}
	ok = mu_tool_check_image (run->fd, header->data_offset, header->data_size, o->data_cipher,
				  volume_key, header->verity_salt, header->root_hash, image_fd,
				  error);
	(void) close (image_fd);
	if (!ok || !mu_tool_check_extracted (o->fs, image, readback, root, error)) {
		g_prefix_error (error, "self-check: ");
		return FALSE;
	}
	return TRUE;
}

/* ---- the whole ---- */

typedef struct {
	GPtrArray *signing_keys; /* MuEd25519SecretKey* */
	GPtrArray *keys;         /* MuKey* */
	MuToolPbkdf pbkdf;
	MuToolCommits *commits;
	guint n_parts;
	guint64 image_size;
	guint keyslot_room;
	gint slots[MU_BUNDLE_MAX_KEYSLOTS];
	MuSignedHeader *header; /* as read back and verified */
} CreateState;

static void
create_state_clear (CreateState *s)
{
	g_clear_pointer (&s->signing_keys, g_ptr_array_unref);
	g_clear_pointer (&s->keys, g_ptr_array_unref);
	mu_tool_pbkdf_clear (&s->pbkdf);
	g_clear_pointer (&s->commits, mu_tool_commits_free);
	g_clear_pointer (&s->header, mu_signed_header_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CreateState, create_state_clear)

static gboolean
write_container (const CreateRun *run, const CreateOptions *o, CreateState *s,
		 const MuSecret *volume_key, GBytes *superblock, GError **error)
{
	g_autofree gchar *image = work_path (run, "inner.img");
	g_autoptr (MuSignedHeader) header = g_new0 (MuSignedHeader, 1);
	g_autoptr (MuCryptDevice) cd = NULL;
	g_autoptr (JsonNode) dump = NULL;
	g_autoptr (GBytes) salt = NULL;
	g_autoptr (GBytes) root = NULL;
	g_autofree gchar *token = NULL;
	g_autofree gchar *pbkdf_text = mu_tool_pbkdf_describe (&s->pbkdf);
	struct crypt_pbkdf_type pbkdf;
	guint keyslot_room = s->keyslot_room;
	guint64 data_offset = mu_tool_container_data_offset (keyslot_room);
	guint64 tree_size = mu_tool_verity_tree_size (s->image_size);
	guint64 file_size = data_offset + s->image_size + tree_size;
	int image_fd;
	gboolean ok;
	int r;

	/* The whole file first, so that libcryptsetup finds room for the segment. */
	if (ftruncate (run->fd, (off_t) file_size) != 0) {
		mu_error_set_errno (error, errno,
				    "cannot make '%s' %" G_GUINT64_FORMAT " bytes long",
				    run->partial, file_size);
		return FALSE;
	}
	step (run, "writing the LUKS2 header (room for %u keyslots)", keyslot_room);
	cd = mu_tool_container_format (run->partial, run->fd, keyslot_room, s->image_size,
				       o->data_cipher, volume_key, error);
	if (cd == NULL)
		return FALSE;

	step (run, "encrypting the image (%s) and hashing the ciphertext", o->data_cipher->spec);
	salt = random_bytes (MU_BUNDLE_VERITY_SALT_LEN, error);
	if (salt == NULL)
		return FALSE;
	image_fd = open (image, O_RDONLY | O_CLOEXEC);
	if (image_fd < 0) {
		mu_error_set_errno (error, errno, "cannot open '%s'", image);
		return FALSE;
	}
	ok = mu_tool_encrypt_image (image_fd, s->image_size, run->fd, data_offset, o->data_cipher,
				    volume_key, salt, &root, error);
	(void) close (image_fd);
	if (!ok)
		return FALSE;

	step (run, "adding %u keyslot(s) (%s)", s->keys->len, pbkdf_text);
	mu_tool_pbkdf_to_crypt (&s->pbkdf, &pbkdf);
	for (guint i = 0; i < s->keys->len; i++) {
		if (!mu_tool_container_add_key (cd, g_ptr_array_index (s->keys, i), volume_key,
						&pbkdf, &s->slots[i], error))
			return FALSE;
	}

	step (run, "signing the header with %u key(s)", s->signing_keys->len);
	if (!mu_tool_luks2_dump (cd, NULL, &dump, error) ||
	    !mu_tool_container_fill_header (dump, header, error) ||
	    !mu_tool_header_fill_update (header, s->commits, superblock, error))
		return FALSE;
	header->format = MU_BUNDLE_FORMAT_V2;
	header->key_size = (guint32) volume_key->len;
	header->hash_offset = data_offset + s->image_size;
	header->verity_hash = g_strdup (MU_BUNDLE_VERITY_HASH);
	header->data_block_size = MU_BUNDLE_VERITY_BLOCK_SIZE;
	header->hash_block_size = MU_BUNDLE_VERITY_BLOCK_SIZE;
	header->verity_salt = g_bytes_ref (salt);
	header->root_hash = g_bytes_ref (root);
	if (mu_signed_header_hash_tree_size (header) != tree_size) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the hash tree is %" G_GUINT64_FORMAT
			     " bytes, the format says %" G_GUINT64_FORMAT,
			     tree_size, mu_signed_header_hash_tree_size (header));
		return FALSE;
	}
	token = mu_signed_token_build_json (header,
					    (MuEd25519SecretKey *const *) s->signing_keys->pdata,
					    s->signing_keys->len, error);
	if (token == NULL)
		return FALSE;
	r = crypt_token_json_set (cd, CRYPT_ANY_TOKEN, token);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "cannot store the signed header token (%s)", g_strerror (-r));
		return FALSE;
	}
	return TRUE;
}

static void
print_summary (const CreateRun *run, const CreateOptions *o, const CreateState *s)
{
	const MuSignedHeader *h = s->header;
	g_autofree gchar *pbkdf_text = mu_tool_pbkdf_describe (&s->pbkdf);
	g_autofree gchar *root_hex = mu_tool_hex (h->root_hash);
	g_autoptr (GString) slots = g_string_new (NULL);
	g_autoptr (GString) signers = g_string_new (NULL);

	for (guint i = 0; i < s->keys->len; i++) {
		const MuKey *key = g_ptr_array_index (s->keys, i);

		g_string_append_printf (slots, "%s%d:%s", i > 0 ? " " : "", s->slots[i], key->id);
	}
	for (guint i = 0; i < s->signing_keys->len; i++) {
		MuEd25519Key *pub = mu_ed25519_secret_key_get_public (s->signing_keys->pdata[i]);

		g_string_append_printf (signers, "%s%s", i > 0 ? " " : "",
					mu_ed25519_key_get_id (pub));
	}
	g_print ("Bundle:      %s (%" G_GUINT64_FORMAT " bytes)\n", o->output,
		 h->hash_offset + mu_signed_header_hash_tree_size (h));
	g_print ("Format:      mediaupd bundle v%u (LUKS2 label '%s', subsystem '%s')\n", h->format,
		 MU_BUNDLE_LUKS_LABEL, MU_BUNDLE_LUKS_SUBSYSTEM_V2);
	g_print ("OS:          %s%s%s%s%s\n", h->os_id[0] != '\0' ? h->os_id : "(no ID)",
		 h->os_variant_id[0] != '\0' ? " variant " : "", h->os_variant_id,
		 s->commits->os_pretty != NULL ? ", " : "",
		 s->commits->os_pretty != NULL ? s->commits->os_pretty : "");
	g_print ("Ref:         %s\n", h->ref);
	g_print ("From:        %s\n",
		 h->from_commit[0] != '\0' ? h->from_commit : "(none: full update)");
	g_print ("To:          %s%s%s%s\n", h->to_commit, h->version[0] != '\0' ? " (version " : "",
		 h->version, h->version[0] != '\0' ? ")" : "");
	g_print ("Delta:       superblock + %u part(s), %" G_GUINT64_FORMAT
		 " bytes (%" G_GUINT64_FORMAT " uncompressed)\n",
		 s->n_parts, h->total_compressed, h->total_uncompressed);
	g_print ("Inner image: %s, %" G_GUINT64_FORMAT " bytes\n", o->fs, s->image_size);
	g_print ("Encryption:  LUKS2 %s %u-bit, %u-byte sectors, data at %" G_GUINT64_FORMAT
		 ", %s\n",
		 h->cipher, h->key_size * 8, h->sector_size, h->data_offset, pbkdf_text);
	g_print ("Verity:      sha256 over the ciphertext, hash tree at %" G_GUINT64_FORMAT
		 ", root %s\n",
		 h->hash_offset, root_hex);
	g_print ("Keyslots:    %u of %u: %s\n", s->keys->len, s->keyslot_room, slots->str);
	g_print ("Signed by:   %s\n", signers->str);
	g_print ("Self-check:  every key opens only its own keyslot; header and delta signatures "
		 "verify; verity root, decrypted data and files match\n");
	g_print ("Time:        %.2f s\n",
		 (gdouble) (g_get_monotonic_time () - run->start_us) / G_USEC_PER_SEC);
}

static int
create_bundle (const CreateOptions *o)
{
	g_auto (CreateRun) run = { .start_us = g_get_monotonic_time (), .fd = -1 };
	g_auto (CreateState) s = { 0 };
	g_autoptr (GError) error = NULL;
	g_autoptr (MuSecret) volume_key = NULL;
	g_autoptr (GBytes) superblock = NULL;
	g_autoptr (GBytes) signed_superblock = NULL;
	g_autofree gchar *root = NULL;
	g_autofree gchar *manifest = NULL;
	g_autofree gchar *image = NULL;
	GStatBuf st;

	/* Before any other thread exists, so that every thread has them blocked. */
	catch_stop_signals (&run);
	s.signing_keys = g_ptr_array_new_with_free_func (
		(GDestroyNotify) mu_ed25519_secret_key_free);
	s.keys = g_ptr_array_new_with_free_func ((GDestroyNotify) mu_key_free);
	if (!mu_tool_pbkdf_from_options (&s.pbkdf, o->pbkdf, o->pbkdf_iterations, o->pbkdf_memory,
					 o->pbkdf_parallel, &error))
		return mu_tool_usage_error ("%s", error->message);
	if (!load_signing_keys (o->signing_keys, s.signing_keys, &error) ||
	    !load_keys (o, s.keys, &error) || !check_output (o, &error))
		return mu_tool_fail (NULL, error);
	s.keyslot_room = keyslot_room (o, s.keys->len);
	s.commits = mu_tool_commits_resolve (o->repo, o->ref, o->to, o->empty ? NULL : o->from,
					     &error);
	if (s.commits == NULL || !start_run (o, &run, &error))
		return mu_tool_fail (NULL, error);

	superblock = make_delta (&run, s.commits, s.signing_keys, &s.n_parts, &signed_superblock,
				 &error);
	if (superblock == NULL)
		return mu_tool_fail (NULL, error);
	root = work_path (&run, "root");
	manifest = g_build_filename (root, MU_BUNDLE_MANIFEST, NULL);
	image = work_path (&run, "inner.img");
	step (&run, "building the %s image", o->fs);
	if (!write_manifest (o, s.commits, manifest, &error) ||
	    !mu_tool_build_image (o->fs, root, image, run.work_dir, &error))
		return mu_tool_fail (NULL, error);
	if (g_stat (image, &st) != 0) {
		mu_error_set_errno (&error, errno, "cannot stat '%s'", image);
		return mu_tool_fail (NULL, error);
	}
	s.image_size = (guint64) st.st_size;

	volume_key = random_volume_key (o->data_cipher->key_len, &error);
	if (volume_key == NULL || !write_container (&run, o, &s, volume_key, superblock, &error))
		return mu_tool_fail (NULL, error);

	step (&run, "self-check");
	if (fsync (run.fd) != 0) {
		mu_error_set_errno (&error, errno, "cannot write '%s'", run.partial);
		return mu_tool_fail (NULL, error);
	}
	if (!mu_tool_check_keys (run.partial, s.keys, s.slots, volume_key, &error) ||
	    !mu_tool_check_signatures (run.partial, s.signing_keys, signed_superblock,
				       mu_tool_container_data_offset (s.keyslot_room) +
					       s.image_size +
					       mu_tool_verity_tree_size (s.image_size),
				       &s.header, &error) ||
	    !check_body (&run, o, s.header, volume_key, &error))
		return mu_tool_fail (NULL, error);
	g_clear_pointer (&volume_key, mu_secret_free);

	if (fchmod (run.fd, 0644) != 0 || fsync (run.fd) != 0 ||
	    (o->force ? rename (run.partial, o->output)
		      : renameat2 (AT_FDCWD, run.partial, AT_FDCWD, o->output, RENAME_NOREPLACE)) !=
		    0) {
		mu_error_set_errno (&error, errno,
				    errno == EEXIST ? "'%s' appeared while the bundle was being "
						      "built; it was left as it is (remove it or "
						      "add --force, and run again)"
						    : "cannot move the bundle to '%s'",
				    o->output);
		return mu_tool_fail (NULL, error);
	}
	g_mutex_lock (&run_lock);
	g_clear_pointer (&run.partial, g_free);
	g_mutex_unlock (&run_lock);
	print_summary (&run, o, &s);
	return MU_TOOL_EXIT_OK;
}

int
mu_tool_cmd_create (int argc, char **argv)
{
	g_auto (CreateOptions) o = { 0 };
	GOptionEntry entries[] = {
		{ "repo", 0, 0, G_OPTION_ARG_FILENAME, &o.repo,
		  "OSTree repository (archive mode) holding the commits", "REPO" },
		{ "ref", 0, 0, G_OPTION_ARG_STRING, &o.ref,
		  "The ref to ship; its head is the target unless --to is given", "REF" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &o.to, "Ship this commit instead", "COMMIT" },
		{ "from", 0, 0, G_OPTION_ARG_STRING, &o.from,
		  "Make a delta from COMMIT (what the devices run now)", "COMMIT" },
		{ "empty", 0, 0, G_OPTION_ARG_NONE, &o.empty,
		  "Make a full update (for devices on any commit)", NULL },
		{ "signing-key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.signing_keys,
		  "ed25519 secret key file (repeat to sign with several keys)", "FILE" },
		{ "key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.key_specs,
		  "Encryption key FILE (32..512 random bytes) for key id ID (repeatable)",
		  "ID=FILE" },
		{ "keys-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.keys_dir,
		  "Use every DIR/ID.key as the key for id ID", "DIR" },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output,
		  "The bundle to write (default: " MU_BUNDLE_DEFAULT_NAME ")", "FILE" },
		{ "force", 'f', 0, G_OPTION_ARG_NONE, &o.force, "Replace FILE if it exists", NULL },
		{ "fs", 0, 0, G_OPTION_ARG_STRING, &o.fs,
		  "Inner filesystem: erofs (default), squashfs or ext4", "TYPE" },
		{ "cipher", 0, 0, G_OPTION_ARG_STRING, &o.cipher,
		  "Data cipher: aes-xts-plain64 (the default) or adiantum (boards without AES "
		  "instructions)",
		  "NAME" },
		{ "keyslot-room", 0, 0, G_OPTION_ARG_STRING, &o.keyslot_room_text,
		  "Keyslots the header has room for, for rekeying later (default: 8, or as "
		  "many as there are keys; at most 32)",
		  "N" },
		{ "pbkdf", 0, 0, G_OPTION_ARG_STRING, &o.pbkdf,
		  "Keyslot PBKDF: pbkdf2 (default) or argon2id", "NAME" },
		{ "pbkdf-iterations", 0, 0, G_OPTION_ARG_INT, &o.pbkdf_iterations,
		  "pbkdf2 iterations (default 1000) or argon2id time cost (default 4)", "N" },
		{ "pbkdf-memory", 0, 0, G_OPTION_ARG_INT, &o.pbkdf_memory,
		  "argon2id memory cost in KiB (default 65536)", "KIB" },
		{ "pbkdf-parallel", 0, 0, G_OPTION_ARG_INT, &o.pbkdf_parallel,
		  "argon2id threads (default 1)", "N" },
		{ NULL },
	};
	g_autoptr (GOptionContext) context = g_option_context_new (NULL);
	const gchar *env;

	g_option_context_set_summary (context, "Build an encrypted update bundle (format v2).");
	g_option_context_set_description (context, create_description);
	g_option_context_add_main_entries (context, entries, NULL);
	if (!mu_tool_parse_options (context, &argc, &argv))
		return MU_TOOL_EXIT_USAGE;
	if (argc != 1)
		return mu_tool_usage_error ("unexpected argument '%s'", argv[1]);
	if (o.repo == NULL)
		return mu_tool_usage_error ("--repo REPO is required");
	if (o.ref == NULL)
		return mu_tool_usage_error ("--ref REF is required");
	if (o.empty && o.from != NULL)
		return mu_tool_usage_error ("--from and --empty exclude each other: give --from "
					    "COMMIT for a delta, or --empty for a full update");
	if (!o.empty && o.from == NULL)
		return mu_tool_usage_error ("give --from COMMIT (a delta from the commit the "
					    "devices run) or --empty (a full update)");
	if (o.fs == NULL)
		o.fs = g_strdup ("erofs");
	if (!mu_tool_fs_is_known (o.fs))
		return mu_tool_usage_error ("unknown --fs '%s': use erofs, squashfs or ext4", o.fs);
	o.data_cipher = o.cipher != NULL ? mu_tool_cipher_lookup (o.cipher)
					 : mu_tool_cipher_default ();
	if (o.data_cipher == NULL)
		return mu_tool_usage_error (
			"unknown --cipher '%s': use aes-xts-plain64 or adiantum", o.cipher);
	if (o.keyslot_room_text != NULL) {
		gint64 room = 0;

		if (!g_ascii_string_to_signed (o.keyslot_room_text, 10, 1, MU_BUNDLE_MAX_KEYSLOTS,
					       &room, NULL))
			return mu_tool_usage_error ("--keyslot-room '%s' is not valid: give 1..%d",
						    o.keyslot_room_text, MU_BUNDLE_MAX_KEYSLOTS);
		o.keyslot_room = (gint) room;
	}
	if (o.signing_keys == NULL) {
		env = g_getenv ("MEDIAUPD_SIGNING_KEY_FILE");
		if (env == NULL || env[0] == '\0')
			return mu_tool_usage_error (
				"no signing key: give --signing-key FILE or set "
				"MEDIAUPD_SIGNING_KEY_FILE to a file path");
		o.signing_keys = g_new0 (gchar *, 2);
		o.signing_keys[0] = g_strdup (env);
	}
	if (o.key_specs != NULL && o.keys_dir != NULL)
		return mu_tool_usage_error ("--key and --keys-dir exclude each other: use one way "
					    "to name the encryption keys");
	if (o.key_specs == NULL && o.keys_dir == NULL) {
		env = g_getenv ("MEDIAUPD_KEYS_DIR");
		if (env == NULL || env[0] == '\0')
			return mu_tool_usage_error ("no encryption keys: give --key ID=FILE, "
						    "--keys-dir DIR or set MEDIAUPD_KEYS_DIR");
		o.keys_dir = g_strdup (env);
	}
	if (o.output == NULL)
		o.output = g_strdup (MU_BUNDLE_DEFAULT_NAME);
	return create_bundle (&o);
}
