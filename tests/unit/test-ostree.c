/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <ostree.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mu-bundle-format.h"
#include "mu-delta.h"
#include "mu-ed25519.h"
#include "mu-keyring.h"
#include "mu-error.h"
#include "mu-ostree.h"
#include "mu-safe-open.h"

/*
 * The engine's apply and deploy phases against a real OSTree sysroot in a directory,
 * built by mk-ostree-sysroot.sh with the stock ostree CLI. Booting is for the VM suite.
 */
typedef struct {
	gchar *dir;
	gchar *sysroot;
	gchar *v1;
	gchar *v2;
} Fixture;

#define REF "testos/x86_64/main"

static gchar *
fixture_script (void)
{
	return g_build_filename (g_getenv ("MEDIAUPD_SOURCE_ROOT"), "tests", "unit",
				 "mk-ostree-sysroot.sh", NULL);
}

/* Runs @argv and returns its stdout without the final newline. */
static gchar *
run_capture (const gchar *const *argv)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
		      &status, &error);
	g_assert_no_error (error);
	if (!g_spawn_check_wait_status (status, &error))
		g_error ("%s failed: %s\n%s%s", argv[0], error->message, out, err);
	g_strchomp (out);
	return g_steal_pointer (&out);
}

static void
run_or_die (const gchar *const *argv)
{
	g_free (run_capture (argv));
}

static gchar *
read_commit (const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename (dir, "commits", NULL);
	g_autofree gchar *text = NULL;
	g_auto (GStrv) lines = NULL;
	g_autofree gchar *prefix = g_strconcat (name, "=", NULL);

	g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		if (g_str_has_prefix (lines[i], prefix))
			return g_strdup (lines[i] + strlen (prefix));
	g_assert_not_reached ();
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
	g_autofree gchar *script = fixture_script ();
	g_autoptr (GError) error = NULL;

	f->dir = g_dir_make_tmp ("mu-ostree-XXXXXX", &error);
	g_assert_no_error (error);
	run_or_die ((const gchar *[]){ "bash", script, f->dir, NULL });
	f->sysroot = g_build_filename (f->dir, "sysroot", NULL);
	f->v1 = read_commit (f->dir, "v1");
	f->v2 = read_commit (f->dir, "v2");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
	g_autofree gchar *script = fixture_script ();

	run_or_die ((const gchar *[]){ "bash", script, "--remove", f->dir, NULL });
	g_free (f->dir);
	g_free (f->sysroot);
	g_free (f->v1);
	g_free (f->v2);
}

static GBytes *
read_superblock (Fixture *f, const gchar *delta)
{
	g_autofree gchar *path = g_build_filename (f->dir, delta, "superblock", NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, &error);

	g_assert_no_error (error);
	return g_mapped_file_get_bytes (map);
}

/* What a test compares before and after a refused or failed install. */
static gchar *
system_state (Fixture *f)
{
	g_autoptr (GFile) file = g_file_new_for_path (f->sysroot);
	g_autoptr (OstreeSysroot) sysroot = ostree_sysroot_new (file);
	g_autoptr (OstreeRepo) repo = NULL;
	g_autoptr (GPtrArray) deployments = NULL;
	g_autoptr (GString) s = g_string_new (NULL);
	g_autofree gchar *ref = NULL;
	g_autofree gchar *entries = g_build_filename (f->sysroot, "boot", "loader", "entries",
						      NULL);
	g_autoptr (GDir) dir = NULL;
	const gchar *name;

	g_assert_true (ostree_sysroot_load (sysroot, NULL, NULL));
	g_assert_true (ostree_sysroot_get_repo (sysroot, &repo, NULL, NULL));
	deployments = ostree_sysroot_get_deployments (sysroot);
	for (guint i = 0; i < deployments->len; i++)
		g_string_append_printf (s, "deployment %s.%d\n",
					ostree_deployment_get_csum (deployments->pdata[i]),
					ostree_deployment_get_deployserial (deployments->pdata[i]));
	g_assert_true (ostree_repo_resolve_rev (repo, REF, FALSE, &ref, NULL));
	g_string_append_printf (s, "ref %s\n", ref);
	dir = g_dir_open (entries, 0, NULL);
	g_assert_nonnull (dir);
	while ((name = g_dir_read_name (dir)) != NULL) {
		g_autofree gchar *path = g_build_filename (entries, name, NULL);
		g_autofree gchar *text = NULL;

		g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
		g_string_append_printf (s, "entry %s\n%s", name, text);
	}
	return g_string_free (g_steal_pointer (&s), FALSE);
}

typedef enum {
	OS_RELEASE_TEXT,    /* usr/lib/os-release holds the given text */
	OS_RELEASE_MISSING, /* the tree has none */
	OS_RELEASE_SYMLINK, /* a symlink to the given path */
} OsReleaseKind;

/*
 * A commit of v2's tree with usr/lib/os-release changed as @kind says, on branch @name of
 * the fixture's archive repo, newer than v2, bound to no ref (`ostree commit -b` binds
 * the branch unless told not to), with @extra (or NULL) added to `ostree commit`; then a
 * v1 -> commit delta in DIR/delta-NAME. Returns the commit checksum.
 */
static gchar *
make_commit_and_delta (Fixture *f, const gchar *name, OsReleaseKind kind, const gchar *text,
		       const gchar *const *extra)
{
	g_autofree gchar *src = g_build_filename (f->dir, "tree-v2", NULL);
	g_autofree gchar *tree = g_build_filename (f->dir, name, NULL);
	g_autofree gchar *os_release = g_build_filename (tree, "usr", "lib", "os-release", NULL);
	g_autofree gchar *repo_arg = g_strconcat ("--repo=", f->dir, "/repo", NULL);
	g_autofree gchar *branch = g_strconcat ("--branch=test/", name, NULL);
	g_autofree gchar *tree_arg = g_strconcat ("--tree=dir=", tree, NULL);
	g_autofree gchar *delta_dir = g_strconcat (f->dir, "/delta-", name, NULL);
	g_autofree gchar *file_arg = g_strconcat ("--filename=", delta_dir, "/superblock", NULL);
	g_autofree gchar *from = g_strconcat ("--from=", f->v1, NULL);
	g_autofree gchar *to = NULL;
	g_autofree gchar *commit = NULL;

	run_or_die ((const gchar *[]){ "cp", "-a", src, tree, NULL });
	g_assert_cmpint (g_unlink (os_release), ==, 0);
	if (kind == OS_RELEASE_TEXT)
		g_assert_true (g_file_set_contents (os_release, text, -1, NULL));
	else if (kind == OS_RELEASE_SYMLINK)
		g_assert_cmpint (symlink (text, os_release), ==, 0);
	{
		g_autoptr (GPtrArray) argv = g_ptr_array_new ();
		const gchar *fixed[] = {
			"ostree",        repo_arg, "commit",
			branch,          tree_arg, "--timestamp=2026-07-01T00:00:00Z",
			"--no-bindings", "-s",     name
		};

		for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
			g_ptr_array_add (argv, (gpointer) fixed[i]);
		for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
			g_ptr_array_add (argv, (gpointer) extra[i]);
		g_ptr_array_add (argv, NULL);
		commit = run_capture ((const gchar *const *) argv->pdata);
	}
	g_assert_cmpuint (strlen (commit), ==, 64);
	to = g_strconcat ("--to=", commit, NULL);
	g_assert_cmpint (g_mkdir (delta_dir, 0700), ==, 0);
	run_or_die ((const gchar *[]){ "ostree", repo_arg, "static-delta", "generate", from, to,
				       "--min-fallback-size=0", file_arg, NULL });
	return g_steal_pointer (&commit);
}

/* The names of all objects in the sysroot's repository, one a line, sorted. */
static gchar *
repo_objects (Fixture *f)
{
	g_autofree gchar *objects = g_build_filename (f->sysroot, "ostree", "repo", "objects",
						      NULL);

	return run_capture ((const gchar *[]){ "sh", "-c", "cd \"$1\" && find . -type f | sort",
					       "sh", objects, NULL });
}

/* The delta directory @name of the fixture, opened as the engine opens the bundle's. */
static int
open_delta (Fixture *f, const gchar *name)
{
	g_autoptr (GError) error = NULL;
	int root = mu_safe_open_root (f->dir, &error);
	int fd;

	g_assert_no_error (error);
	fd = mu_safe_open_dir (root, name, &error);
	g_assert_no_error (error);
	close (root);
	return fd;
}

/* No private apply directory is left in the repository's tmp directory. */
static gboolean
no_apply_dir_left (Fixture *f)
{
	g_autofree gchar *tmp = g_build_filename (f->sysroot, "ostree", "repo", "tmp", NULL);
	g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
	const gchar *name;

	g_assert_nonnull (dir);
	while ((name = g_dir_read_name (dir)) != NULL)
		if (g_str_has_prefix (name, "mediaupd-apply-"))
			return FALSE;
	return TRUE;
}

static void
test_delta_info (Fixture *f, gconstpointer data)
{
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	g_autoptr (GBytes) sb_full = read_superblock (f, "delta-full");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuDeltaInfo) full = NULL;
	g_autoptr (GDateTime) when = NULL;

	g_assert_no_error (error);
	g_assert_cmpstr (info->from_commit, ==, f->v1);
	g_assert_cmpstr (info->to_commit, ==, f->v2);
	g_assert_cmpstr (info->version, ==, "1.1");
	g_assert_nonnull (info->ref_bindings);
	g_assert_cmpstr (info->ref_bindings[0], ==, REF);
	g_assert_null (info->collection_binding);
	when = g_date_time_new_from_unix_utc ((gint64) info->timestamp);
	g_assert_cmpint (g_date_time_get_year (when), ==, 2026);
	g_assert_cmpint (g_date_time_get_month (when), ==, 6);
	g_assert_cmpuint (info->n_parts, ==, 2);
	for (guint i = 0; i < info->n_parts; i++) {
		g_autofree gchar *name = g_strdup_printf ("%u", i);
		g_autofree gchar *path = g_build_filename (f->dir, "delta", name, NULL);
		GStatBuf st;

		g_assert_cmpint (g_stat (path, &st), ==, 0);
		g_assert_cmpuint (info->part_compressed[i], ==, (guint64) st.st_size);
		g_assert_cmpuint (info->part_uncompressed[i], >, 0);
	}
	g_assert_cmpuint (info->total_uncompressed, >=, 3 * 600000);

	full = mu_delta_info_new (sb_full, &error);
	g_assert_no_error (error);
	g_assert_null (full->from_commit);
	g_assert_cmpstr (full->to_commit, ==, f->v2);
}

/* A superblock whose bytes were changed, cut short or replaced is refused as corrupt. */
static void
test_delta_info_corrupt (Fixture *f, gconstpointer data)
{
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	gsize len = 0;
	const guint8 *orig = g_bytes_get_data (sb, &len);
	g_autofree guint8 *flipped = g_memdup2 (orig, len);
	g_autoptr (GVariant) v = NULL;
	g_autoptr (GVariant) commit = NULL;
	gsize commit_offset;
	struct {
		const gchar *name;
		GBytes *bytes;
	} cases[3];

	/* Flip a byte inside the to-commit object: its checksum no longer matches. */
	v = g_variant_new_from_bytes (
		G_VARIANT_TYPE ("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"), sb,
		FALSE);
	commit = g_variant_get_child_value (v, 4);
	commit_offset = (const guint8 *) g_variant_get_data (commit) - orig;
	flipped[commit_offset + g_variant_get_size (commit) - 40] ^= 0x01;

	cases[0].name = "flipped commit byte";
	cases[0].bytes = g_bytes_new (flipped, len);
	cases[1].name = "truncated";
	cases[1].bytes = g_bytes_new (orig, len / 2);
	cases[2].name = "not a superblock";
	cases[2].bytes = g_bytes_new_static ("OSTSGNDT and then garbage", 25);
	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		g_autoptr (MuDeltaInfo) info = mu_delta_info_new (cases[i].bytes, &error);

		g_test_message ("case: %s", cases[i].name);
		g_assert_null (info);
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
		g_bytes_unref (cases[i].bytes);
	}
}

static void
record_progress (const MuProgressState *state, gpointer user_data)
{
	MuProgressState *last = user_data;

	g_assert_cmpuint (state->percentage, >=, last->percentage);
	*last = *state;
}

static void
test_apply_and_deploy (Fixture *f, gconstpointer data)
{
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	int parts = open_delta (f, "delta");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = NULL;
	MuProgressState seen = { 0 };
	g_autoptr (MuProgress) progress = mu_progress_new (record_progress, &seen);
	MuPolicySystem system;
	g_autofree gchar *state = NULL;
	g_autofree gchar *etc_file = NULL;
	g_autofree gchar *ref_line = NULL;

	g_assert_no_error (error);
	target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_assert_no_error (error);
	mu_ostree_target_describe (target, &system);
	g_assert_cmpstr (system.commit, ==, f->v1);
	g_assert_cmpstr (system.origin_ref, ==, REF);
	g_assert_cmpstr (system.version, ==, "1.0");
	g_assert_cmpstr (target->osname, ==, "testos");
	g_assert_true (mu_ostree_target_has_commit (target, f->v1));
	g_assert_false (mu_ostree_target_has_commit (target, f->v2));

	mu_progress_begin_phase (progress, MU_PHASE_APPLY);
	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, progress, NULL, &error));
	g_assert_no_error (error);
	close (parts);
	g_assert_true (mu_ostree_target_has_commit (target, f->v2));
	g_assert_cmpuint (seen.items_total, ==, 2);
	g_assert_cmpuint (seen.items_done, ==, 2);
	/* Each part byte counts twice: checked and copied, then applied. */
	g_assert_cmpuint (seen.bytes_done, ==, 2 * info->total_compressed);
	g_assert_cmpuint (seen.bytes_total, ==, 2 * info->total_compressed);
	g_assert_true (no_apply_dir_left (f));

	g_assert_true (mu_ostree_deploy (target, f->v2, NULL, &error));
	g_assert_no_error (error);
	g_clear_pointer (&target, mu_ostree_target_free);

	state = system_state (f);
	g_test_message ("%s", state);
	/* The new deployment comes first, the old one stays for rollback. */
	g_assert_true (g_str_has_prefix (state, "deployment "));
	g_assert_nonnull (strstr (state, f->v2));
	g_assert_true (strstr (state, f->v2) < strstr (state, f->v1));
	ref_line = g_strdup_printf ("ref %s\n", f->v2);
	g_assert_nonnull (strstr (state, ref_line));
	g_assert_nonnull (strstr (state, "title Test OS 1.1"));
	/* Kernel arguments carried over. */
	g_assert_nonnull (strstr (state, "options root=LABEL=testroot quiet ostree="));
	/* The local /etc change was merged into the new deployment. */
	etc_file = g_build_filename (f->sysroot, "ostree", "deploy", "testos", "deploy", f->v2,
				     NULL);
	{
		g_autofree gchar *path = g_strconcat (etc_file, ".0/etc/local-change", NULL);
		g_autofree gchar *text = NULL;

		g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
		g_assert_cmpstr (text, ==, "changed on the device\n");
	}
}

static void
test_apply_full (Fixture *f, gconstpointer data)
{
	g_autoptr (GBytes) sb = read_superblock (f, "delta-full");
	int parts = open_delta (f, "delta-full");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);

	g_assert_no_error (error);
	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, NULL, NULL, &error));
	g_assert_no_error (error);
	close (parts);
	g_assert_true (mu_ostree_target_has_commit (target, f->v2));
	g_assert_true (mu_ostree_deploy (target, f->v2, NULL, &error));
	g_assert_no_error (error);
}

typedef enum {
	BAD_PART_FLIPPED_BYTE,
	BAD_PART_FIFO,
	BAD_PART_MISSING,
	BAD_PART_SYMLINK,
	BAD_PART_SYMLINK_DEV_ZERO,
	BAD_PART_SYMLINK_ROOT,
	BAD_PART_DEVICE,
	BAD_PART_DIRECTORY,
	BAD_PART_SHORT,
	BAD_PART_SWAPPED,
	BAD_PART_XZ_BOMB,
} BadPart;

/* Bytes this process has had written, as the kernel counts them in /proc/self/io. */
static guint64
io_counter (const gchar *field)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *prefix = g_strconcat (field, ": ", NULL);
	g_auto (GStrv) lines = NULL;

	g_assert_true (g_file_get_contents ("/proc/self/io", &text, NULL, NULL));
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		if (g_str_has_prefix (lines[i], prefix))
			return g_ascii_strtoull (lines[i] + strlen (prefix), NULL, 10);
	g_assert_not_reached ();
}

/* @path replaced by @size bytes that are not the signed part: the start of another
 * delta's part, or an xz stream of zeros that expands far beyond @size. */
static void
replace_part (const gchar *path, const gchar *source, gsize size)
{
	g_autofree gchar *content = NULL;
	g_autofree gchar *old = NULL;
	gsize len = 0, old_len = 0;

	g_assert_true (g_file_get_contents (path, &old, &old_len, NULL));
	g_assert_true (g_file_get_contents (source, &content, &len, NULL));
	content = g_realloc (content, MAX (len, size));
	if (len < size)
		memset (content + len, 0, size - len);
	g_assert_true (g_file_set_contents (path, content, (gssize) size, NULL));
	g_assert_cmpuint (old_len, ==, size);
	g_assert_true (memcmp (old, content, size) != 0);
}

/* Each damaged part is refused as a corrupt delta, and nothing changes: same
 * deployments, ref and boot entries, no to-commit, no private directory left. */
static void
test_apply_bad_part (Fixture *f, gconstpointer data)
{
	BadPart kind = GPOINTER_TO_INT (data);
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	g_autofree gchar *parts_dir = g_build_filename (f->dir, "delta", NULL);
	g_autofree gchar *part0 = g_build_filename (parts_dir, "0", NULL);
	g_autofree gchar *part1 = g_build_filename (parts_dir, "1", NULL);
	g_autofree gchar *bomb = g_build_filename (f->dir, "bomb.xz", NULL);
	g_autofree gchar *other = g_build_filename (f->dir, "delta-full", "0", NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = NULL;
	g_autofree gchar *before = system_state (f);
	g_autofree gchar *after = NULL;
	g_autofree gchar *content = NULL;
	g_autofree gchar *cmd = NULL;
	g_autofree gchar *original = NULL;
	gsize len = 0;
	guint64 written, wchar;
	int parts;

	g_assert_no_error (error);
	switch (kind) {
	case BAD_PART_FLIPPED_BYTE:
		g_assert_true (g_file_get_contents (part1, &content, &len, NULL));
		g_assert_cmpuint (len, >, 0);
		original = g_memdup2 (content, len);
		content[len / 2] ^= 0x01;
		g_assert_true (g_file_set_contents (part1, content, (gssize) len, NULL));
		g_clear_pointer (&content, g_free);
		/* What the test feeds must differ from the good part. */
		g_assert_true (g_file_get_contents (part1, &content, &len, NULL));
		g_assert_true (memcmp (content, original, len) != 0);
		break;
	case BAD_PART_FIFO:
		g_assert_cmpint (g_unlink (part1), ==, 0);
		g_assert_cmpint (mkfifo (part1, 0644), ==, 0);
		break;
	case BAD_PART_MISSING:
		g_assert_cmpint (g_unlink (part1), ==, 0);
		break;
	case BAD_PART_SYMLINK:
		g_assert_cmpint (g_unlink (part1), ==, 0);
		g_assert_cmpint (symlink ("0", part1), ==, 0);
		break;
	case BAD_PART_SYMLINK_DEV_ZERO:
		g_assert_cmpint (g_unlink (part1), ==, 0);
		g_assert_cmpint (symlink ("/dev/zero", part1), ==, 0);
		break;
	case BAD_PART_SYMLINK_ROOT:
		g_assert_cmpint (g_unlink (part1), ==, 0);
		g_assert_cmpint (symlink ("/", part1), ==, 0);
		break;
	case BAD_PART_DEVICE:
		/* Same numbers as /dev/null. */
		g_assert_cmpint (g_unlink (part1), ==, 0);
		g_assert_cmpint (mknod (part1, S_IFCHR | 0644, makedev (1, 3)), ==, 0);
		break;
	case BAD_PART_DIRECTORY:
		g_assert_cmpint (g_unlink (part1), ==, 0);
		g_assert_cmpint (g_mkdir (part1, 0755), ==, 0);
		break;
	case BAD_PART_SHORT:
		g_assert_cmpint (truncate (part1, (off_t) info->part_compressed[1] - 1), ==, 0);
		break;
	case BAD_PART_SWAPPED:
		/* A real part of another delta of the same commit, cut to the signed size. */
		replace_part (part0, other, info->part_compressed[0]);
		break;
	case BAD_PART_XZ_BOMB:
		/* libostree's part format: a 'x' byte, then the xz stream; 256 MiB of zeros
		 * compress to a few KiB, padded to the signed size of part 0. */
		cmd = g_strdup_printf (
			"{ printf x; head -c 268435456 /dev/zero | xz -0 -T1; } >'%s'", bomb);
		run_or_die ((const gchar *[]){ "sh", "-c", cmd, NULL });
		replace_part (part0, bomb, info->part_compressed[0]);
		break;
	}

	parts = open_delta (f, "delta");
	target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_assert_no_error (error);
	written = io_counter ("write_bytes");
	wchar = io_counter ("wchar");
	g_assert_false (mu_ostree_apply_delta (target, sb, info, parts, NULL, NULL, &error));
	written = io_counter ("write_bytes") - written;
	wchar = io_counter ("wchar") - wchar;
	close (parts);
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
	g_test_message ("refused: %s", error->message);
	g_test_message ("written: %" G_GUINT64_FORMAT " bytes to storage, %" G_GUINT64_FORMAT
			" by write(); part 0 is %" G_GUINT64_FORMAT " bytes",
			written, wchar, info->part_compressed[0]);
	if (kind == BAD_PART_XZ_BOMB || kind == BAD_PART_SWAPPED) {
		/* The superblock and the copy of part 0, nothing decompressed from it. */
		guint64 bound = info->part_compressed[0] + g_bytes_get_size (sb) + 65536;

		g_assert_cmpuint (written, <=, bound);
		g_assert_cmpuint (wchar, <=, bound);
	}
	g_assert_false (mu_ostree_target_has_commit (target, f->v2));
	g_assert_true (no_apply_dir_left (f));
	g_clear_pointer (&target, mu_ostree_target_free);

	after = system_state (f);
	g_assert_cmpstr (after, ==, before);
}

/* What an install killed while copying parts leaves is removed by the next one (and by
 * mu_ostree_apply_remove_stale()); nothing else in the tmp directory is touched. */
static void
test_apply_removes_stale (Fixture *f, gconstpointer data)
{
	g_autofree gchar *tmp = g_build_filename (f->sysroot, "ostree", "repo", "tmp", NULL);
	g_autofree gchar *stale = g_build_filename (tmp, "mediaupd-apply-Ab12Cd", NULL);
	g_autofree gchar *stale_part = g_build_filename (stale, "0", NULL);
	g_autofree gchar *foreign = g_build_filename (tmp, "not-ours", NULL);
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = NULL;
	int parts;

	g_assert_cmpint (g_mkdir_with_parents (stale, 0700), ==, 0);
	g_assert_true (g_file_set_contents (stale_part, "partial copy", -1, NULL));
	g_assert_true (g_file_set_contents (foreign, "kept", -1, NULL));
	g_assert_true (mu_ostree_apply_remove_stale (f->sysroot, &error));
	g_assert_no_error (error);
	g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
	g_assert_true (g_file_test (foreign, G_FILE_TEST_IS_REGULAR));

	g_assert_cmpint (g_mkdir_with_parents (stale, 0700), ==, 0);
	g_assert_true (g_file_set_contents (stale_part, "partial copy", -1, NULL));
	parts = open_delta (f, "delta");
	target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_assert_no_error (error);
	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, NULL, NULL, &error));
	g_assert_no_error (error);
	close (parts);
	g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
	g_assert_true (no_apply_dir_left (f));
	g_assert_true (g_file_test (foreign, G_FILE_TEST_IS_REGULAR));
}

/* Output of the code under test as TAP comments (g_test_message() itself prints). */
static void
print_as_message (const gchar *text)
{
	g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++)
		if (*lines[i] != '\0')
			fprintf (stdout, "# %s\n", lines[i]);
}

/*
 * Writing the boot configuration fails (the sysroot's /boot made immutable): the deploy
 * fails, nothing changed, and the ref was never touched on the way (its file is the same
 * inode with the same mtime), so a kill at any point could not have left it on the new
 * commit.
 */
static void
test_deploy_write_fails (Fixture *f, gconstpointer data)
{
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = NULL;
	g_autofree gchar *boot = g_build_filename (f->sysroot, "boot", NULL);
	g_autofree gchar *ref_file = g_build_filename (f->sysroot, "ostree", "repo", "refs",
						       "heads", REF, NULL);
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	struct stat st_before, st_after;
	int parts = open_delta (f, "delta");

	g_assert_no_error (error);
	target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_assert_no_error (error);
	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, NULL, NULL, &error));
	g_assert_no_error (error);
	close (parts);
	before = system_state (f);
	g_assert_cmpint (stat (ref_file, &st_before), ==, 0);

	run_or_die ((const gchar *[]){ "chattr", "+i", boot, NULL });
	/* libostree's cleanup after the failure prints what it pruned: keep TAP clean. */
	g_set_print_handler (print_as_message);
	g_assert_false (mu_ostree_deploy (target, f->v2, NULL, &error));
	g_set_print_handler (NULL);
	run_or_die ((const gchar *[]){ "chattr", "-i", boot, NULL });
	g_assert_nonnull (error);
	g_test_message ("deploy failed: %s", error->message);
	g_clear_pointer (&target, mu_ostree_target_free);

	g_assert_cmpint (stat (ref_file, &st_after), ==, 0);
	g_assert_cmpuint (st_after.st_ino, ==, st_before.st_ino);
	g_assert_cmpint (st_after.st_mtim.tv_sec, ==, st_before.st_mtim.tv_sec);
	g_assert_cmpint (st_after.st_mtim.tv_nsec, ==, st_before.st_mtim.tv_nsec);
	after = system_state (f);
	g_assert_cmpstr (after, ==, before);
}

/* Writes an ed25519 signature of @commit by @secret as the commit's detached metadata,
 * as `ostree sign` does, then makes a v1 -> v2 delta that carries it. */
static MuDeltaInfo *
delta_with_signed_commit (Fixture *f, MuEd25519SecretKey *secret)
{
	g_autofree gchar *repo_path = g_build_filename (f->dir, "repo", NULL);
	g_autoptr (GFile) repo_file = g_file_new_for_path (repo_path);
	g_autoptr (OstreeRepo) repo = ostree_repo_new (repo_file);
	g_autoptr (GVariant) commit = NULL;
	g_autoptr (GBytes) commit_bytes = NULL;
	g_autoptr (GBytes) sig = NULL;
	g_autoptr (GError) error = NULL;
	g_auto (GVariantBuilder) sigs = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aay"));
	g_auto (GVariantBuilder) meta = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
	g_autofree gchar *sb_path = g_build_filename (f->dir, "delta-signed", "superblock", NULL);
	g_autofree gchar *from = g_strconcat ("--from=", f->v1, NULL);
	g_autofree gchar *to = g_strconcat ("--to=", f->v2, NULL);
	g_autofree gchar *repo_arg = g_strconcat ("--repo=", repo_path, NULL);
	g_autofree gchar *file_arg = g_strconcat ("--filename=", sb_path, NULL);
	g_autofree gchar *dir = g_path_get_dirname (sb_path);
	g_autoptr (GBytes) sb = NULL;
	g_autofree gchar *sb_data = NULL;
	gsize sb_len = 0;
	MuDeltaInfo *info;

	g_assert_true (ostree_repo_open (repo, NULL, &error));
	g_assert_true (
		ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_COMMIT, f->v2, &commit, &error));
	commit_bytes = g_variant_get_data_as_bytes (commit);
	sig = mu_ed25519_secret_key_sign (secret, commit_bytes, &error);
	g_assert_no_error (error);
	g_variant_builder_add_value (&sigs, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
								      sig, TRUE));
	g_variant_builder_add (&meta, "{sv}", MU_SIGN_ED25519_KEY, g_variant_builder_end (&sigs));
	g_assert_true (ostree_repo_write_commit_detached_metadata (repo, f->v2,
								   g_variant_builder_end (&meta),
								   NULL, &error));
	g_assert_no_error (error);

	g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
	run_or_die ((const gchar *[]){ "ostree", repo_arg, "static-delta", "generate", from, to,
				       "--min-fallback-size=0", file_arg, NULL });
	g_assert_true (g_file_get_contents (sb_path, &sb_data, &sb_len, NULL));
	sb = g_bytes_new_take (g_steal_pointer (&sb_data), sb_len);
	info = mu_delta_info_new (sb, &error);
	g_assert_no_error (error);
	return info;
}

static void
test_commit_signature (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuEd25519SecretKey) signer = mu_ed25519_secret_key_generate (&error);
	g_autoptr (MuEd25519SecretKey) other = mu_ed25519_secret_key_generate (&error);
	g_autoptr (MuDeltaInfo) info = delta_with_signed_commit (f, signer);
	g_autoptr (MuKeyring) trusted = mu_keyring_new ();
	g_autoptr (MuKeyring) untrusted = mu_keyring_new ();
	g_autoptr (MuKeyring) revoked = mu_keyring_new ();
	g_autoptr (MuKeyring) empty = mu_keyring_new ();
	g_autoptr (GBytes) plain_sb = read_superblock (f, "delta");
	g_autoptr (MuDeltaInfo) plain = mu_delta_info_new (plain_sb, &error);

	g_assert_nonnull (info->commit_detached);
	mu_keyring_add_trusted_key (trusted, mu_ed25519_secret_key_get_public (signer));
	g_assert_true (mu_delta_info_verify_commit_signature (info, trusted, &error));
	g_assert_no_error (error);

	mu_keyring_add_trusted_key (untrusted, mu_ed25519_secret_key_get_public (other));
	g_assert_false (mu_delta_info_verify_commit_signature (info, untrusted, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_SIGNATURE_INVALID);
	g_assert_nonnull (strstr (error->message, "commit"));
	g_clear_error (&error);

	mu_keyring_add_trusted_key (revoked, mu_ed25519_secret_key_get_public (signer));
	mu_keyring_add_trusted_key (revoked, mu_ed25519_secret_key_get_public (other));
	mu_keyring_add_revoked_key (revoked, mu_ed25519_secret_key_get_public (signer));
	g_assert_false (mu_delta_info_verify_commit_signature (info, revoked, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_KEY_REVOKED);
	g_clear_error (&error);

	/* A commit without a signature of its own passes on the delta's signature alone. */
	g_assert_no_error (error);
	g_assert_null (plain->commit_detached);
	g_assert_true (mu_delta_info_verify_commit_signature (plain, empty, &error));
	g_assert_no_error (error);
}

/*
 * A signed commit bound to no ref or collection, whose tree is not for this device's OS:
 * refused after the apply as WrongOs, and the system is as before: deployments, ref, boot
 * entries, and the repository holds exactly the objects it held (the to-commit is gone).
 */
typedef struct {
	const gchar *name;
	OsReleaseKind kind;
	const gchar *text;
	const gchar *in_message;
} TreeCase;

static const TreeCase tree_cases[] = {
	{ "other-id", OS_RELEASE_TEXT, "NAME=otheros\nID=otheros\n", "names OS 'otheros'" },
	{ "no-id", OS_RELEASE_TEXT, "NAME=testos\n", "names OS '(no ID)'" },
	{ "missing", OS_RELEASE_MISSING, NULL, "no usr/lib/os-release" },
	{ "symlink", OS_RELEASE_SYMLINK, "../etc/os-release", "not a regular file" },
	{ "malformed", OS_RELEASE_TEXT, "ID=testos\nNAME=Test OS\n", "line 2" },
	{ "duplicate-id", OS_RELEASE_TEXT, "ID=testos\nID=otheros\n", "given twice" },
};

static void
check_tree_wrong_os (Fixture *f, const TreeCase *c)
{
	g_autofree gchar *commit = make_commit_and_delta (f, c->name, c->kind, c->text, NULL);
	g_autofree gchar *delta = g_strconcat ("delta-", c->name, NULL);
	int parts = open_delta (f, delta);
	g_autoptr (GBytes) sb = read_superblock (f, delta);
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = NULL;
	g_autofree gchar *before = system_state (f);
	g_autofree gchar *objects_before = repo_objects (f);
	g_autofree gchar *after = NULL;
	g_autofree gchar *objects_after = NULL;
	MuPolicySystem system;
	MuPolicyUpdate update = { 0 };

	g_test_message ("case: %s", c->name);
	g_assert_no_error (error);
	g_assert_cmpstr (info->to_commit, ==, commit);
	g_assert_null (info->ref_bindings);
	g_assert_null (info->collection_binding);
	target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_assert_no_error (error);
	mu_ostree_target_describe (target, &system);
	g_assert_cmpstr (system.os_id, ==, "testos");
	g_assert_null (system.pending_commit);
	update.to_commit = info->to_commit;
	g_assert_true (mu_policy_needs_tree_check (&update));

	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, NULL, NULL, &error));
	g_assert_no_error (error);
	close (parts);
	g_assert_true (mu_ostree_target_has_commit (target, commit));
	g_assert_false (mu_ostree_check_tree_os (target, commit, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_WRONG_OS);
	g_test_message ("refused: %s", error->message);
	g_assert_nonnull (strstr (error->message, c->in_message));
	g_assert_nonnull (strstr (error->message, "use a bundle made for this device's"));
	g_assert_false (mu_ostree_target_has_commit (target, commit));
	g_clear_pointer (&target, mu_ostree_target_free);

	after = system_state (f);
	g_assert_cmpstr (after, ==, before);
	objects_after = repo_objects (f);
	g_assert_cmpstr (objects_after, ==, objects_before);
}

/* One sysroot for all cases: each refusal must leave it as the next case expects it. */
static void
test_tree_wrong_os (Fixture *f, gconstpointer data)
{
	for (guint i = 0; i < G_N_ELEMENTS (tree_cases); i++)
		check_tree_wrong_os (f, &tree_cases[i]);
}

/* The same check passes a tree for this OS, which then deploys. */
static void
test_tree_same_os (Fixture *f, gconstpointer data)
{
	g_autofree gchar *commit = make_commit_and_delta (
		f, "same-id", OS_RELEASE_TEXT,
		"NAME=\"Test OS\"\n# the same OS, written another way\nID='testos'\n", NULL);
	int parts = open_delta (f, "delta-same-id");
	g_autoptr (GBytes) sb = read_superblock (f, "delta-same-id");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_autofree gchar *state = NULL;

	g_assert_no_error (error);
	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, NULL, NULL, &error));
	g_assert_no_error (error);
	close (parts);
	g_assert_true (mu_ostree_check_tree_os (target, commit, NULL, &error));
	g_assert_no_error (error);
	g_assert_true (mu_ostree_deploy (target, commit, NULL, &error));
	g_assert_no_error (error);
	g_clear_pointer (&target, mu_ostree_target_free);
	state = system_state (f);
	g_assert_true (g_str_has_prefix (state, "deployment "));
	g_assert_true (g_str_has_prefix (state + strlen ("deployment "), commit));
}

/* A binding of another GVariant type is a corrupt delta, not an unbound commit. */
static void
test_binding_wrong_type (Fixture *f, gconstpointer data)
{
	const struct {
		const gchar *name;
		const gchar *args[3];
		const gchar *in_message;
	} cases[] = {
		{ "ref-binding-string",
		  { "--add-metadata=ostree.ref-binding='" REF "'" },
		  "'ostree.ref-binding' of type 's', not 'as'" },
		{ "ref-binding-bytes",
		  { "--add-metadata=ostree.ref-binding=b'" REF "'" },
		  "'ostree.ref-binding' of type 'ay', not 'as'" },
		{ "collection-binding-list",
		  { "--add-metadata=ostree.collection-binding=['org.x']" },
		  "'ostree.collection-binding' of type 'as', not 's'" },
		{ "version-number",
		  { "--add-metadata=version=5" },
		  "'version' of type 'i', not 's'" },
		/* GVariant keeps both; a reader taking the second would see another OS. */
		{ "ref-binding-twice",
		  { "--add-metadata=ostree.ref-binding=['" REF "']",
		    "--add-metadata=ostree.ref-binding=['otheros/x86_64/main']" },
		  "'ostree.ref-binding' more than once" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree gchar *commit = make_commit_and_delta (f, cases[i].name, OS_RELEASE_TEXT,
								  "ID=testos\n", cases[i].args);
		g_autofree gchar *delta = g_strconcat ("delta-", cases[i].name, NULL);
		g_autoptr (GBytes) sb = read_superblock (f, delta);

		g_assert_nonnull (commit);
		g_autoptr (GError) error = NULL;
		g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);

		g_test_message ("case: %s", cases[i].name);
		g_assert_null (info);
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_DELTA);
		g_test_message ("refused: %s", error->message);
		g_assert_nonnull (strstr (error->message, cases[i].in_message));
	}
}

/* After a rollback the failed deployment goes, with its boot entry; the other stays. */
static void
test_undeploy (Fixture *f, gconstpointer data)
{
	g_autoptr (GBytes) sb = read_superblock (f, "delta");
	int parts = open_delta (f, "delta");
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDeltaInfo) info = mu_delta_info_new (sb, &error);
	g_autoptr (MuOstreeTarget) target = NULL;
	g_autoptr (MuProgress) progress = mu_progress_new (NULL, NULL);
	g_autofree gchar *v1_line = g_strdup_printf ("deployment %s.", f->v1);
	g_autofree gchar *v2_line = g_strdup_printf ("deployment %s.", f->v2);
	g_autofree gchar *after = NULL;
	g_autofree gchar *again = NULL;
	guint removed = 99;

	g_assert_no_error (error);
	target = mu_ostree_target_open (f->sysroot, FALSE, NULL, &error);
	g_assert_no_error (error);
	mu_progress_begin_phase (progress, MU_PHASE_APPLY);
	g_assert_true (mu_ostree_apply_delta (target, sb, info, parts, progress, NULL, &error));
	close (parts);
	g_assert_true (mu_ostree_deploy (target, f->v2, NULL, &error));
	g_assert_no_error (error);
	g_clear_pointer (&target, mu_ostree_target_free);
	after = system_state (f);
	g_assert_nonnull (strstr (after, v2_line));
	g_assert_nonnull (strstr (after, "title Test OS 1.1"));
	g_clear_pointer (&after, g_free);

	g_assert_true (mu_ostree_undeploy (f->sysroot, f->v2, &removed, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (removed, ==, 1);
	after = system_state (f);
	g_test_message ("%s", after);
	g_assert_null (strstr (after, v2_line));
	g_assert_nonnull (strstr (after, v1_line));
	g_assert_null (strstr (after, "title Test OS 1.1"));
	g_assert_nonnull (strstr (after, "title Test OS 1.0"));

	/* Nothing more to remove: no error, nothing changes. */
	g_assert_true (mu_ostree_undeploy (f->sysroot, f->v2, &removed, &error));
	g_assert_cmpuint (removed, ==, 0);
	again = system_state (f);
	g_assert_cmpstr (again, ==, after);

	/* The only deployment is never removed. */
	g_assert_false (mu_ostree_undeploy (f->sysroot, f->v1, &removed, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_FAILED);
	g_clear_pointer (&again, g_free);
	again = system_state (f);
	g_assert_cmpstr (again, ==, after);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	if (getuid () != 0) {
		/* Deploying sets the immutable flag on deployments, which needs root. */
		g_test_skip ("needs root to build a sysroot");
	}
#define ADD(path, func, data)                                                                      \
	g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)
	ADD ("/ostree/delta-info", test_delta_info, NULL);
	ADD ("/ostree/delta-info-corrupt", test_delta_info_corrupt, NULL);
	ADD ("/ostree/apply-and-deploy", test_apply_and_deploy, NULL);
	ADD ("/ostree/apply-full", test_apply_full, NULL);
	ADD ("/ostree/commit-signature", test_commit_signature, NULL);
	ADD ("/ostree/bad-part/flipped-byte", test_apply_bad_part,
	     GINT_TO_POINTER (BAD_PART_FLIPPED_BYTE));
	ADD ("/ostree/bad-part/fifo", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_FIFO));
	ADD ("/ostree/bad-part/missing", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_MISSING));
	ADD ("/ostree/bad-part/symlink", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_SYMLINK));
	ADD ("/ostree/bad-part/symlink-dev-zero", test_apply_bad_part,
	     GINT_TO_POINTER (BAD_PART_SYMLINK_DEV_ZERO));
	ADD ("/ostree/bad-part/symlink-root", test_apply_bad_part,
	     GINT_TO_POINTER (BAD_PART_SYMLINK_ROOT));
	ADD ("/ostree/bad-part/device", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_DEVICE));
	ADD ("/ostree/bad-part/directory", test_apply_bad_part,
	     GINT_TO_POINTER (BAD_PART_DIRECTORY));
	ADD ("/ostree/bad-part/short", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_SHORT));
	ADD ("/ostree/bad-part/swapped", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_SWAPPED));
	ADD ("/ostree/bad-part/xz-bomb", test_apply_bad_part, GINT_TO_POINTER (BAD_PART_XZ_BOMB));
	ADD ("/ostree/apply-removes-stale", test_apply_removes_stale, NULL);
	ADD ("/ostree/deploy-write-fails", test_deploy_write_fails, NULL);
	ADD ("/ostree/tree-os/same", test_tree_same_os, NULL);
	ADD ("/ostree/tree-os/wrong", test_tree_wrong_os, NULL);
	ADD ("/ostree/binding-wrong-type", test_binding_wrong_type, NULL);
	ADD ("/ostree/undeploy", test_undeploy, NULL);
#undef ADD
	return g_test_run ();
}
