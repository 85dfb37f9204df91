/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "mu-error.h"
#include "mu-tool-crypt.h"
#include "mu-tool-image.h"

void
mu_tool_commits_free (MuToolCommits *commits)
{
	if (commits == NULL)
		return;
	g_clear_object (&commits->repo);
	g_free (commits->ref);
	g_free (commits->to_commit);
	g_free (commits->from_commit);
	g_free (commits->to_version);
	g_free (commits->from_version);
	mu_os_release_free (commits->os);
	g_free (commits->os_pretty);
	g_free (commits);
}

static gchar *
commit_version (OstreeRepo *repo, const gchar *commit)
{
	g_autoptr (GVariant) variant = NULL;
	g_autoptr (GVariant) metadata = NULL;
	const gchar *version = NULL;

	if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_COMMIT, commit, &variant, NULL))
		return NULL;
	metadata = g_variant_get_child_value (variant, 0);
	if (!g_variant_lookup (metadata, "version", "&s", &version))
		return NULL;
	return g_strdup (version);
}

static gchar *
pretty_name (GBytes *contents)
{
	g_auto (GStrv) lines = g_strsplit (g_bytes_get_data (contents, NULL), "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *value = NULL;

		if (!g_str_has_prefix (lines[i], "PRETTY_NAME="))
			continue;
		value = g_shell_unquote (lines[i] + strlen ("PRETTY_NAME="), NULL);
		return value != NULL ? g_utf8_make_valid (value, MIN (strlen (value), 200)) : NULL;
	}
	return NULL;
}

/* The os-release of the commit's tree: /usr/lib/os-release, else /etc/os-release. */
static gboolean
read_os_release (MuToolCommits *commits, GError **error)
{
	static const gchar *const paths[] = { "usr/lib/os-release", "etc/os-release",
					      "usr/etc/os-release" };
	g_autoptr (GFile) root = NULL;

	if (!ostree_repo_read_commit (commits->repo, commits->to_commit, &root, NULL, NULL,
				      error)) {
		g_prefix_error (error, "reading the commit %s: ", commits->to_commit);
		return FALSE;
	}
	for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
		g_autoptr (GFile) file = g_file_resolve_relative_path (root, paths[i]);
		g_autoptr (GFileInfo) info = NULL;
		g_autoptr (GBytes) contents = NULL;
		g_autoptr (GBytes) terminated = NULL;

		info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_TYPE,
					  G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
		if (info == NULL || g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
			continue;
		contents = g_file_load_bytes (file, NULL, NULL, error);
		if (contents == NULL) {
			g_prefix_error (error, "reading /%s of the commit: ", paths[i]);
			return FALSE;
		}
		commits->os = mu_os_release_parse (contents, error);
		if (commits->os == NULL) {
			g_prefix_error (error, "/%s of the commit %s: ", paths[i],
					commits->to_commit);
			return FALSE;
		}
		{
			g_autoptr (GByteArray) copy = g_byte_array_new ();

			g_byte_array_append (copy, g_bytes_get_data (contents, NULL),
					     (guint) g_bytes_get_size (contents));
			g_byte_array_append (copy, (const guint8 *) "", 1);
			terminated = g_byte_array_free_to_bytes (g_steal_pointer (&copy));
		}
		commits->os_pretty = pretty_name (terminated);
		return TRUE;
	}
	/* No os-release: the device then cannot tell the OS; the header says "". */
	commits->os = g_new0 (MuOsRelease, 1);
	return TRUE;
}

static gchar *
resolve_commit (OstreeRepo *repo, const gchar *rev)
{
	g_autofree gchar *commit = NULL;
	g_autoptr (GVariant) variant = NULL;

	if (!ostree_repo_resolve_rev (repo, rev, FALSE, &commit, NULL))
		return NULL;
	if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_COMMIT, commit, &variant, NULL))
		return NULL;
	return g_steal_pointer (&commit);
}

MuToolCommits *
mu_tool_commits_resolve (const gchar *repo_path, const gchar *ref, const gchar *to,
			 const gchar *from, GError **error)
{
	g_autoptr (MuToolCommits) commits = g_new0 (MuToolCommits, 1);
	g_autoptr (GFile) repo_file = g_file_new_for_path (repo_path);
	g_autofree gchar *config = g_build_filename (repo_path, "config", NULL);
	g_autofree gchar *objects = g_build_filename (repo_path, "objects", NULL);
	g_autofree gchar *head = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!g_file_test (config, G_FILE_TEST_IS_REGULAR) ||
	    !g_file_test (objects, G_FILE_TEST_IS_DIR)) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "'%s' is not an OSTree repository (give --repo the directory holding "
			     "'config' and 'objects/')",
			     repo_path);
		return NULL;
	}
	/* libostree writes a delta's temporary objects into the repository. */
	if (access (repo_path, W_OK) != 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "the repository '%s' is not writable by this user, which generating "
			     "a delta needs (run as its owner, or use a writable copy: cp -a)",
			     repo_path);
		return NULL;
	}
	commits->repo = ostree_repo_new (repo_file);
	if (!ostree_repo_open (commits->repo, NULL, error)) {
		g_prefix_error (error, "opening the repository '%s': ", repo_path);
		return NULL;
	}
	commits->ref = g_strdup (ref);
	head = resolve_commit (commits->repo, ref);
	if (head == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_NOT_FOUND,
			     "ref '%s' is not in the repository '%s' (check the name with: ostree "
			     "--repo='%s' refs)",
			     ref, repo_path, repo_path);
		return NULL;
	}
	if (to != NULL) {
		commits->to_commit = resolve_commit (commits->repo, to);
		if (commits->to_commit == NULL) {
			g_set_error (error, MU_ERROR, MU_ERROR_NOT_FOUND,
				     "the --to commit '%s' is not in the repository '%s' (give a "
				     "commit of '%s' that it holds: ostree --repo='%s' log '%s')",
				     to, repo_path, ref, repo_path, ref);
			return NULL;
		}
	} else {
		commits->to_commit = g_steal_pointer (&head);
	}
	if (from != NULL) {
		commits->from_commit = resolve_commit (commits->repo, from);
		if (commits->from_commit == NULL) {
			g_set_error (
				error, MU_ERROR, MU_ERROR_NOT_FOUND,
				"the --from commit '%s' is not in the repository '%s' (keep the "
				"commit the devices run in the repository, or use --empty for "
				"a full update)",
				from, repo_path);
			return NULL;
		}
		if (g_str_equal (commits->from_commit, commits->to_commit)) {
			g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
				     "--from and the target are the same commit %s: nothing to "
				     "update (build the bundle after committing the new version)",
				     commits->to_commit);
			return NULL;
		}
		commits->from_version = commit_version (commits->repo, commits->from_commit);
	}
	commits->to_version = commit_version (commits->repo, commits->to_commit);
	if (!read_os_release (commits, error))
		return NULL;
	return g_steal_pointer (&commits);
}

gboolean
mu_tool_generate_delta (MuToolCommits *commits, const gchar *dir, guint *ret_n_parts,
			GError **error)
{
	g_autofree gchar *superblock = g_build_filename (dir, "superblock", NULL);
	g_auto (GVariantBuilder) params = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
	g_autoptr (GVariant) params_v = NULL;
	g_autoptr (GDir) d = NULL;
	const gchar *name;
	guint n_parts = 0;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	g_variant_builder_add (&params, "{sv}", "filename", g_variant_new_bytestring (superblock));
	g_variant_builder_add (&params, "{sv}", "inline-parts", g_variant_new_boolean (FALSE));
	/* 0: no object is shipped whole as a "fallback" outside the parts. */
	g_variant_builder_add (&params, "{sv}", "min-fallback-size", g_variant_new_uint32 (0));
	params_v = g_variant_ref_sink (g_variant_builder_end (&params));
	if (!ostree_repo_static_delta_generate (commits->repo,
						OSTREE_STATIC_DELTA_GENERATE_OPT_MAJOR,
						commits->from_commit, commits->to_commit, NULL,
						params_v, NULL, error)) {
		g_prefix_error (error, "generating the delta (check that the repository holds both "
				       "commits completely: ostree fsck): ");
		return FALSE;
	}
	d = g_dir_open (dir, 0, error);
	if (d == NULL)
		return FALSE;
	while ((name = g_dir_read_name (d)) != NULL) {
		if (g_str_equal (name, "superblock"))
			continue;
		for (const gchar *p = name; *p != '\0'; p++) {
			if (!g_ascii_isdigit (*p)) {
				g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
					     "unexpected file '%s' in the generated delta", name);
				return FALSE;
			}
		}
		n_parts++;
	}
	if (!g_file_test (superblock, G_FILE_TEST_IS_REGULAR)) {
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "libostree wrote no delta superblock");
		return FALSE;
	}
	*ret_n_parts = n_parts;
	return TRUE;
}

/* In the child: the caller may block signals that the command must get (Ctrl-C). */
static void
unblock_signals (gpointer data)
{
	sigset_t all;

	sigfillset (&all);
	pthread_sigmask (SIG_UNBLOCK, &all, NULL);
}

/* The Debian package of each tool mu_tool_run runs, for the message when it is missing. */
static const gchar *
tool_package (const gchar *tool)
{
	static const struct {
		const gchar *tool;
		const gchar *package;
	} packages[] = {
		{ "mkfs.erofs", "erofs-utils" },    { "fsck.erofs", "erofs-utils" },
		{ "mksquashfs", "squashfs-tools" }, { "unsquashfs", "squashfs-tools" },
		{ "mke2fs", "e2fsprogs" },          { "debugfs", "e2fsprogs" },
		{ "resize2fs", "e2fsprogs" },       { "e2fsck", "e2fsprogs" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (packages); i++) {
		if (g_str_equal (packages[i].tool, tool))
			return packages[i].package;
	}
	return NULL;
}

gboolean
mu_tool_run (const gchar *what, const gchar *const *argv, GError **error)
{
	g_autoptr (GSubprocess) proc = NULL;
	g_autofree gchar *output = NULL;
	g_autofree gchar *cmdline = g_strjoinv (" ", (gchar **) argv);
	g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
		G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE |
		G_SUBPROCESS_FLAGS_STDIN_INHERIT);

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	g_debug ("running: %s", cmdline);
	g_subprocess_launcher_set_child_setup (launcher, unblock_signals, NULL, NULL);
	/* The image's times are fixed by the arguments; with SOURCE_DATE_EPOCH set (as
	 * dpkg-buildpackage and many CI jobs do) mksquashfs refuses -mkfs-time and -all-time. */
	g_subprocess_launcher_unsetenv (launcher, "SOURCE_DATE_EPOCH");
	proc = g_subprocess_launcher_spawnv (launcher, argv, error);
	if (proc == NULL && error != NULL &&
	    g_error_matches (*error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) &&
	    tool_package (argv[0]) != NULL) {
		g_clear_error (error);
		g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
			     "the tool '%s' is missing: install the Debian package %s (apt-get "
			     "install %s)",
			     argv[0], tool_package (argv[0]), tool_package (argv[0]));
		return FALSE;
	}
	if (proc == NULL) {
		g_prefix_error (error, "%s: ", what);
		return FALSE;
	}
	if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, &output, NULL, error)) {
		g_prefix_error (error, "%s: ", what);
		return FALSE;
	}
	if (!g_subprocess_get_successful (proc)) {
		gsize len = output != NULL ? strlen (output) : 0;
		const gchar *tail = output != NULL ? output + (len > 1500 ? len - 1500 : 0) : "";

		g_set_error (error, MU_ERROR, MU_ERROR_FAILED, "%s failed (command: %s): %s", what,
			     argv[0], g_strstrip ((gchar *) tail));
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_tool_fs_is_known (const gchar *fs)
{
	return g_strcmp0 (fs, "erofs") == 0 || g_strcmp0 (fs, "squashfs") == 0 ||
	       g_strcmp0 (fs, "ext4") == 0;
}

/* Modes 0755/0644 on everything under @path; adds the apparent sizes to @size and the
 * debugfs commands that make every inode root's to @cmds (when not NULL). */
static gboolean
normalize_tree (const gchar *path, const gchar *rel, guint64 *size, GString *cmds, GError **error)
{
	g_autoptr (GDir) d = g_dir_open (path, 0, error);
	const gchar *name;

	if (d == NULL)
		return FALSE;
	while ((name = g_dir_read_name (d)) != NULL) {
		g_autofree gchar *child = g_build_filename (path, name, NULL);
		g_autofree gchar *child_rel = g_strconcat (rel, "/", name, NULL);
		GStatBuf st;
		gboolean is_dir;

		if (g_lstat (child, &st) != 0 || !(S_ISDIR (st.st_mode) || S_ISREG (st.st_mode))) {
			g_set_error (error, MU_ERROR, MU_ERROR_FAILED,
				     "'%s' is neither a directory nor a regular file", child);
			return FALSE;
		}
		is_dir = S_ISDIR (st.st_mode);
		if (g_chmod (child, is_dir ? 0755 : 0644) != 0) {
			mu_error_set_errno (error, errno, "cannot chmod '%s'", child);
			return FALSE;
		}
		*size += (guint64) st.st_size + 4096;
		if (cmds != NULL)
			g_string_append_printf (cmds, "sif %s uid 0\nsif %s gid 0\n", child_rel,
						child_rel);
		if (is_dir && !normalize_tree (child, child_rel, size, cmds, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
build_ext4 (const gchar *root, const gchar *image, const gchar *work_dir, GString *cmds,
	    guint64 size, GError **error)
{
	g_autofree gchar *blocks = g_strdup_printf ("%" G_GUINT64_FORMAT,
						    size / 1024 * 2 / 4 + 2048);
	g_autofree gchar *cmd_file = g_build_filename (work_dir, "debugfs.cmd", NULL);
	const gchar *mke2fs[] = { "mke2fs",         "-q", "-F",           "-t", "ext4", "-b",
				  "4096",           "-O", "^has_journal", "-m", "0",    "-E",
				  "root_owner=0:0", "-L", "mediaupd",     "-d", root,   image,
				  blocks,           NULL };
	const gchar *debugfs[] = { "debugfs", "-w", "-f", cmd_file, image, NULL };
	const gchar *resize[] = { "resize2fs", "-M", image, NULL };
	const gchar *fsck[] = { "e2fsck", "-f", "-n", image, NULL };

	if (!g_file_set_contents (cmd_file, cmds->str, (gssize) cmds->len, error))
		return FALSE;
	return mu_tool_run ("mke2fs", mke2fs, error) &&
	       mu_tool_run ("debugfs (file owners)", debugfs, error) &&
	       mu_tool_run ("resize2fs -M", resize, error) && mu_tool_run ("e2fsck", fsck, error);
}

gboolean
mu_tool_build_image (const gchar *fs, const gchar *root, const gchar *image, const gchar *work_dir,
		     GError **error)
{
	g_autoptr (GString) cmds = g_string_new (NULL);
	guint64 size = 0;
	GStatBuf st;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (g_chmod (root, 0755) != 0 || !normalize_tree (root, "", &size, cmds, error)) {
		if (error != NULL && *error == NULL)
			mu_error_set_errno (error, errno, "cannot chmod '%s'", root);
		return FALSE;
	}
	if (g_str_equal (fs, "erofs")) {
		const gchar *argv[] = { "mkfs.erofs", "--all-root", "-T0", image, root, NULL };

		if (!mu_tool_run ("mkfs.erofs", argv, error))
			return FALSE;
	} else if (g_str_equal (fs, "squashfs")) {
		const gchar *argv[] = { "mksquashfs", root,         image,  "-noappend",
					"-noI",       "-noD",       "-noF", "-noX",
					"-all-root",  "-mkfs-time", "0",    "-all-time",
					"0",          "-quiet",     NULL };

		if (!mu_tool_run ("mksquashfs", argv, error))
			return FALSE;
	} else if (!build_ext4 (root, image, work_dir, cmds, size, error)) {
		return FALSE;
	}
	if (g_stat (image, &st) != 0) {
		mu_error_set_errno (error, errno, "the %s image '%s' is missing", fs, image);
		return FALSE;
	}
	/* Whole 4 KiB sectors, and at least two, for the hash tree's sake. */
	size = MAX ((guint64) st.st_size, 2 * MU_TOOL_SECTOR_SIZE);
	size = (size + MU_TOOL_SECTOR_SIZE - 1) / MU_TOOL_SECTOR_SIZE * MU_TOOL_SECTOR_SIZE;
	if (truncate (image, (off_t) size) != 0) {
		mu_error_set_errno (error, errno, "cannot pad the image '%s'", image);
		return FALSE;
	}
	return TRUE;
}

gboolean
mu_tool_check_extracted (const gchar *fs, const gchar *image, const gchar *dest, const gchar *root,
			 GError **error)
{
	g_autofree gchar *extract_opt = g_strconcat ("--extract=", dest, NULL);
	g_autofree gchar *rdump = g_strconcat ("rdump / ", dest, NULL);
	g_autofree gchar *lost = g_build_filename (dest, "lost+found", NULL);
	const gchar *diff[] = { "diff", "-r", "--", root, dest, NULL };

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (g_str_equal (fs, "erofs")) {
		const gchar *argv[] = { "fsck.erofs", extract_opt, image, NULL };

		if (!mu_tool_run ("fsck.erofs --extract", argv, error))
			return FALSE;
	} else if (g_str_equal (fs, "squashfs")) {
		const gchar *argv[] = { "unsquashfs", "-no-progress", "-d", dest, image, NULL };

		if (!mu_tool_run ("unsquashfs", argv, error))
			return FALSE;
	} else {
		const gchar *argv[] = { "debugfs", "-R", rdump, image, NULL };

		if (g_mkdir (dest, 0700) != 0) {
			mu_error_set_errno (error, errno, "cannot create '%s'", dest);
			return FALSE;
		}
		if (!mu_tool_run ("debugfs rdump", argv, error))
			return FALSE;
		if (!mu_tool_remove_tree (lost)) {
			g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot remove '%s'", lost);
			return FALSE;
		}
	}
	if (!mu_tool_run ("comparing the files read back with those put in", diff, error)) {
		g_prefix_error (error, "the %s image does not read back as it was made: ", fs);
		return FALSE;
	}
	return TRUE;
}

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove (path) == 0 || errno == ENOENT ? 0 : -1;
}

gboolean
mu_tool_remove_tree (const gchar *path)
{
	GStatBuf st;

	if (g_lstat (path, &st) != 0)
		return errno == ENOENT;
	return nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}
