/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot counting on the host: the grubenv reader and writer, the "uboot" and "grub" backends
 * against real environment files (made by mkenvimage and grub-editenv, read back with
 * fw_printenv and grub-editenv), the arm / abort / mark-good / rollback logic with a fake
 * backend, and the arming before a deploy with its undoing (a failed deploy, a power cut
 * between the arming and the deploy) on those files.
 */
#include "config.h"

#include <glib/gstdio.h>

#include "mu-blacklist.h"
#include "mu-boot-state.h"
#include "mu-error.h"
#include "mu-grubenv.h"
#include "test-luks-util.h"

#define FAILED "4444444444444444444444444444444444444444444444444444444444444444"
#define GOOD "1111111111111111111111111111111111111111111111111111111111111111"

typedef struct {
	gchar *dir;
	MuConfig *config;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	f->dir = g_dir_make_tmp ("mu-boot-XXXXXX", &error);
	g_assert_no_error (error);
	f->config = mu_config_new_defaults ();
	g_free (f->config->state_dir);
	f->config->state_dir = g_build_filename (f->dir, "state", NULL);
	g_free (f->config->grubenv);
	f->config->grubenv = g_build_filename (f->dir, "grubenv", NULL);
	g_free (f->config->uboot_env_config);
	f->config->uboot_env_config = g_build_filename (f->dir, "fw_env.config", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
	mu_test_remove_tree (f->dir);
	g_free (f->dir);
	mu_config_free (f->config);
}

/* The output of @argv, which must succeed. */
static gchar *
run (const gchar *const *argv)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;
	g_autoptr (GError) error = NULL;

	g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
				     &out, &err, &status, &error));
	g_assert_no_error (error);
	if (!g_spawn_check_wait_status (status, NULL))
		g_error ("%s failed: %s", argv[0], err);
	return g_steal_pointer (&out);
}

static gboolean
have (const gchar *program)
{
	g_autofree gchar *path = g_find_program_in_path (program);

	if (path != NULL)
		return TRUE;
	g_test_skip_printf ("%s is not installed", program);
	return FALSE;
}

static GBytes *
read_bytes (const gchar *path)
{
	gchar *data = NULL;
	gsize len = 0;

	g_assert_true (g_file_get_contents (path, &data, &len, NULL));
	return g_bytes_new_take (data, len);
}

/* ---- grubenv ---- */

static void
test_grubenv_interop (Fixture *f, gconstpointer data)
{
	const gchar *path = f->config->grubenv;
	g_autoptr (MuGrubEnv) env = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree gchar *list = NULL;

	if (!have ("grub-editenv"))
		return;
	g_free (run ((const gchar *[]){ "grub-editenv", path, "create", NULL }));
	g_free (run ((const gchar *[]){ "grub-editenv", path, "set", "saved_entry=ostree-1",
					"x=1 2", NULL }));
	env = mu_grubenv_load (path, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (mu_grubenv_get (env, "saved_entry"), ==, "ostree-1");
	g_assert_cmpstr (mu_grubenv_get (env, "x"), ==, "1 2");
	g_assert_null (mu_grubenv_get (env, "boot_counter"));
	g_assert_true (mu_grubenv_set (env, "boot_counter", "3", &error));
	g_assert_true (mu_grubenv_set (env, "x", "2", &error));
	g_assert_true (mu_grubenv_save (env, path, &error));
	g_assert_no_error (error);
	list = run ((const gchar *[]){ "grub-editenv", path, "list", NULL });
	g_assert_cmpstr (list, ==, "saved_entry=ostree-1\nx=2\nboot_counter=3\n");
	g_assert_cmpuint (g_bytes_get_size (read_bytes (path)), ==, MU_GRUBENV_SIZE);
}

static void
test_grubenv_refusals (void)
{
	static const struct {
		const gchar *name;
		const gchar *text; /* padded with '#' to 1024 bytes unless @raw */
		gboolean raw;
	} cases[] = {
		{ "no header", "# GRUB Environment Blob\na=1\n" },
		{ "not name=value", MU_GRUBENV_HEADER "a=1\nno equals sign\n" },
		{ "bad name", MU_GRUBENV_HEADER "a b=1\n" },
		{ "empty name", MU_GRUBENV_HEADER "=1\n" },
		{ "escaped value", MU_GRUBENV_HEADER "a=x\\\\y\n" },
		{ "control character", MU_GRUBENV_HEADER "a=x\ty\n" },
		{ "twice", MU_GRUBENV_HEADER "a=1\na=2\n" },
		{ "short", MU_GRUBENV_HEADER "a=1\n", TRUE },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GString) s = g_string_new (cases[i].text);
		g_autoptr (GBytes) block = NULL;
		g_autoptr (GError) error = NULL;
		g_autoptr (MuGrubEnv) env = NULL;

		while (!cases[i].raw && s->len < MU_GRUBENV_SIZE)
			g_string_append_c (s, '#');
		block = g_bytes_new (s->str, s->len);
		g_test_message ("case: %s", cases[i].name);
		env = mu_grubenv_parse (block, &error);
		g_assert_null (env);
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
		g_assert_nonnull (strstr (error->message, "grub-editenv"));
	}
	/* Padding with something in it, and a variable running into the end. */
	{
		g_autoptr (GString) s = g_string_new (MU_GRUBENV_HEADER "a=1\n");
		g_autoptr (GBytes) block = NULL;
		g_autoptr (GError) error = NULL;

		while (s->len < MU_GRUBENV_SIZE)
			g_string_append_c (s, s->len == 700 ? 'x' : '#');
		block = g_bytes_new (s->str, s->len);
		g_assert_null (mu_grubenv_parse (block, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
		g_assert_nonnull (strstr (error->message, "byte 700"));
	}
	/* Too much to fit is refused when writing, not cut. */
	{
		g_autoptr (MuGrubEnv) env = mu_grubenv_new ();
		g_autofree gchar *big = g_strnfill (1000, 'v');
		g_autoptr (GError) error = NULL;

		g_assert_true (mu_grubenv_set (env, "big", big, &error));
		g_assert_null (mu_grubenv_serialize (env, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_NO_SPACE);
		g_clear_error (&error);
		g_assert_false (mu_grubenv_set (env, "x", "a\nb", &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT);
	}
}

/* ---- the grub backend ---- */

static void
test_grub_backend (Fixture *f, gconstpointer data)
{
	const MuBootBackend *grub = mu_boot_backend_get_by_name ("grub");
	const gchar *path = f->config->grubenv;
	MuBootCounter counter = { 0 };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *list = NULL;

	if (!have ("grub-editenv"))
		return;
	g_assert_nonnull (grub);
	g_free (run ((const gchar *[]){ "grub-editenv", path, "create", NULL }));
	g_free (run ((const gchar *[]){ "grub-editenv", path, "set", "saved_entry=0", NULL }));
	g_assert_true (grub->read (f->config, &counter, &error));
	g_assert_no_error (error);
	g_assert_false (counter.armed);

	f->config->boot_limit = 2;
	g_assert_true (grub->arm (f->config, &error));
	g_assert_no_error (error);
	list = run ((const gchar *[]){ "grub-editenv", path, "list", NULL });
	g_assert_cmpstr (list, ==,
			 "saved_entry=0\nboot_success=0\nboot_counter=2\nmediaupd_boot_limit=2\n");
	g_assert_true (grub->read (f->config, &counter, &error));
	g_assert_true (counter.armed);
	g_assert_cmpuint (counter.count, ==, 0);
	g_assert_cmpuint (counter.limit, ==, 2);
	g_assert_false (mu_boot_counter_exhausted (&counter));

	/* What grub.cfg does at each boot of the trial, as grub-editenv. */
	g_free (run ((const gchar *[]){ "grub-editenv", path, "set", "boot_counter=1", NULL }));
	g_assert_true (grub->read (f->config, &counter, &error));
	g_assert_cmpuint (counter.count, ==, 1);
	g_assert_false (mu_boot_counter_exhausted (&counter));
	g_free (run ((const gchar *[]){ "grub-editenv", path, "set", "boot_counter=0", NULL }));
	g_assert_true (grub->read (f->config, &counter, &error));
	g_assert_true (mu_boot_counter_exhausted (&counter));

	g_assert_true (grub->disarm (f->config, &error));
	g_assert_no_error (error);
	g_assert_true (grub->read (f->config, &counter, &error));
	g_assert_false (counter.armed);
	g_clear_pointer (&list, g_free);
	list = run ((const gchar *[]){ "grub-editenv", path, "list", NULL });
	g_assert_nonnull (strstr (list, "boot_success=1\n"));
	g_assert_nonnull (strstr (list, "saved_entry=0\n"));

	/* A counter that makes no sense is damage, not "no trial". */
	g_free (run ((const gchar *[]){ "grub-editenv", path, "set", "boot_success=0",
					"boot_counter=x", NULL }));
	g_assert_false (grub->read (f->config, &counter, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
}

/* A damaged or missing block: every operation refuses it, and not one byte changes. */
static void
test_grub_backend_corrupt (Fixture *f, gconstpointer data)
{
	const MuBootBackend *grub = mu_boot_backend_get_by_name ("grub");
	const gchar *path = f->config->grubenv;
	/* The header, the '=' of a=1, the padding. */
	const gssize offsets[] = { 0, -1, 1023 };
	MuBootCounter counter = { 0 };

	if (!have ("grub-editenv"))
		return;
	for (gsize i = 0; i < G_N_ELEMENTS (offsets); i++) {
		g_autoptr (GBytes) before = NULL;
		g_autoptr (GBytes) after = NULL;
		g_autoptr (GError) error = NULL;
		gchar *data_copy = NULL;
		gsize len = 0;

		g_free (run ((const gchar *[]){ "grub-editenv", path, "create", NULL }));
		g_free (run ((const gchar *[]){ "grub-editenv", path, "set", "a=1", NULL }));
		g_assert_true (g_file_get_contents (path, &data_copy, &len, NULL));
		if (offsets[i] >= 0)
			data_copy[offsets[i]] = 'Z';
		else
			strstr (data_copy, "\na=1\n")[2] = 'Z';
		g_assert_true (g_file_set_contents (path, data_copy, (gssize) len, NULL));
		g_free (data_copy);
		before = read_bytes (path);
		g_test_message ("damaged at byte %" G_GSSIZE_FORMAT, offsets[i]);
		g_assert_false (grub->arm (f->config, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
		g_assert_nonnull (strstr (error->message, path));
		g_clear_error (&error);
		g_assert_false (grub->disarm (f->config, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
		g_clear_error (&error);
		g_assert_false (grub->read (f->config, &counter, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
		after = read_bytes (path);
		g_assert_true (g_bytes_equal (before, after));
	}
	{
		g_autoptr (GError) error = NULL;

		g_assert_cmpint (g_unlink (path), ==, 0);
		g_assert_false (grub->arm (f->config, &error));
		g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
		g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
	}
}

/* ---- the uboot backend ---- */

/* A U-Boot environment of 16 KiB made by mkenvimage from @vars, with its fw_env.config. */
static gchar *
make_uboot_env (Fixture *f, const gchar *vars)
{
	g_autofree gchar *txt = g_build_filename (f->dir, "env.txt", NULL);
	g_autofree gchar *bin = g_build_filename (f->dir, "uboot.env", NULL);
	g_autofree gchar *line = g_strdup_printf ("%s 0x0 0x4000\n", bin);

	g_assert_true (g_file_set_contents (txt, vars, -1, NULL));
	g_free (run ((const gchar *[]){ "mkenvimage", "-s", "0x4000", "-o", bin, txt, NULL }));
	g_assert_true (g_file_set_contents (f->config->uboot_env_config, line, -1, NULL));
	return g_steal_pointer (&bin);
}

/* fw_printenv reads @name as @expected. */
static void
assert_fw (Fixture *f, const gchar *name, const gchar *expected)
{
	g_autofree gchar *out = run ((const gchar *[]){
		"fw_printenv", "-c", f->config->uboot_env_config, "-n", name, NULL });

	g_assert_cmpstr (g_strstrip (out), ==, expected);
}

static void
fw_set (Fixture *f, const gchar *name, const gchar *value)
{
	g_free (run ((const gchar *[]){ "fw_setenv", "-c", f->config->uboot_env_config, name, value,
					NULL }));
}

static void
test_uboot_backend (Fixture *f, gconstpointer data)
{
	const MuBootBackend *uboot = mu_boot_backend_get_by_name ("uboot");
	MuBootCounter counter = { 0 };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *bin = NULL;

	if (!have ("mkenvimage") || !have ("fw_printenv"))
		return;
	g_assert_nonnull (uboot);
	bin = make_uboot_env (f, "bootlimit=2\nbootcmd=run distro_bootcmd\n");
	g_assert_true (uboot->read (f->config, &counter, &error));
	g_assert_no_error (error);
	g_assert_false (counter.armed);
	g_assert_cmpuint (counter.limit, ==, 2);

	g_assert_true (uboot->arm (f->config, &error));
	g_assert_no_error (error);
	assert_fw (f, "upgrade_available", "1");
	assert_fw (f, "bootcount", "0");
	/* The board's own limit stays; other variables too. */
	assert_fw (f, "bootlimit", "2");
	assert_fw (f, "bootcmd", "run distro_bootcmd");
	g_assert_true (uboot->read (f->config, &counter, &error));
	g_assert_true (counter.armed);
	g_assert_cmpuint (counter.count, ==, 0);

	/* U-Boot counts the boots; the third one is beyond the limit and falls back. */
	fw_set (f, "bootcount", "2");
	g_assert_true (uboot->read (f->config, &counter, &error));
	g_assert_cmpuint (counter.count, ==, 2);
	g_assert_false (mu_boot_counter_exhausted (&counter));
	fw_set (f, "bootcount", "3");
	g_assert_true (uboot->read (f->config, &counter, &error));
	g_assert_true (mu_boot_counter_exhausted (&counter));

	g_assert_true (uboot->disarm (f->config, &error));
	g_assert_no_error (error);
	assert_fw (f, "upgrade_available", "0");
	assert_fw (f, "bootcount", "0");
	g_assert_true (uboot->read (f->config, &counter, &error));
	g_assert_false (counter.armed);
}

/* Without a bootlimit in the board's environment, arming sets [Boot] BootLimit=. */
static void
test_uboot_backend_no_limit (Fixture *f, gconstpointer data)
{
	const MuBootBackend *uboot = mu_boot_backend_get_by_name ("uboot");
	g_autoptr (GError) error = NULL;
	g_autofree gchar *bin = NULL;

	if (!have ("mkenvimage") || !have ("fw_printenv"))
		return;
	bin = make_uboot_env (f, "bootcmd=boot\n");
	f->config->boot_limit = 5;
	g_assert_true (uboot->arm (f->config, &error));
	g_assert_no_error (error);
	assert_fw (f, "bootlimit", "5");
}

/* A damaged environment (CRC mismatch) and a fw_env.config naming nothing are refused, and
 * the environment keeps every byte. */
static void
test_uboot_backend_corrupt (Fixture *f, gconstpointer data)
{
	const MuBootBackend *uboot = mu_boot_backend_get_by_name ("uboot");
	MuBootCounter counter = { 0 };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *bin = NULL;
	g_autoptr (GBytes) before = NULL;
	g_autoptr (GBytes) after = NULL;
	gchar *data_copy = NULL;
	gsize len = 0;

	if (!have ("mkenvimage"))
		return;
	bin = make_uboot_env (f, "bootlimit=3\nupgrade_available=1\nbootcount=4\n");
	g_assert_true (g_file_get_contents (bin, &data_copy, &len, NULL));
	data_copy[12] ^= 0x20;
	g_assert_true (g_file_set_contents (bin, data_copy, (gssize) len, NULL));
	g_free (data_copy);
	before = read_bytes (bin);

	g_assert_false (uboot->arm (f->config, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
	g_assert_nonnull (strstr (error->message, "nothing was written"));
	g_clear_error (&error);
	g_assert_false (uboot->disarm (f->config, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
	g_clear_error (&error);
	g_assert_false (uboot->read (f->config, &counter, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
	g_clear_error (&error);
	after = read_bytes (bin);
	g_assert_true (g_bytes_equal (before, after));

	g_assert_cmpint (g_unlink (f->config->uboot_env_config), ==, 0);
	g_assert_false (uboot->arm (f->config, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CONFIG);
	g_assert_nonnull (strstr (error->message, "UBootEnvConfig"));
	g_clear_pointer (&after, g_bytes_unref);
	after = read_bytes (bin);
	g_assert_true (g_bytes_equal (before, after));
}

/* ---- the boot-state logic, with a fake backend ---- */

#define OTHER "7777777777777777777777777777777777777777777777777777777777777777"

static struct {
	MuBootCounter counter;
	guint arms;
	guint disarms;
	gboolean fail_arm;
	gboolean fail_disarm;
	GPtrArray *undeployed;
	gboolean fail_undeploy;
	const MuConfig *config; /* when set, arming checks the record is saved first */
} fake;

static gboolean
fake_arm (const MuConfig *config, GError **error)
{
	if (fake.config != NULL) {
		g_autoptr (MuDaemonState) saved = mu_daemon_state_load (fake.config->state_dir);

		g_assert_nonnull (saved->pending_commit);
	}
	if (fake.fail_arm) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV, "damaged");
		return FALSE;
	}
	fake.arms++;
	fake.counter = (MuBootCounter){ .armed = TRUE, .limit = 3 };
	return TRUE;
}

static gboolean
fake_disarm (const MuConfig *config, GError **error)
{
	if (fake.fail_disarm) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV, "damaged");
		return FALSE;
	}
	fake.disarms++;
	fake.counter.armed = FALSE;
	return TRUE;
}

static gboolean
fake_read (const MuConfig *config, MuBootCounter *out_counter, GError **error)
{
	*out_counter = fake.counter;
	return TRUE;
}

static const MuBootBackend fake_backend = {
	.name = "fake",
	.counts = TRUE,
	.arm = fake_arm,
	.disarm = fake_disarm,
	.read = fake_read,
};

static gboolean
fake_undeploy (const gchar *sysroot, const gchar *commit, GError **error)
{
	if (fake.fail_undeploy) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_IO, "sysroot is read-only");
		return FALSE;
	}
	g_ptr_array_add (fake.undeployed, g_strdup (commit));
	return TRUE;
}

static void
fake_reset (void)
{
	g_clear_pointer (&fake.undeployed, g_ptr_array_unref);
	memset (&fake, 0, sizeof fake);
	fake.undeployed = g_ptr_array_new_with_free_func (g_free);
}

static void
test_boot_decide (void)
{
	static const gchar *const deployed[] = { GOOD, FAILED, NULL };
	/* clang-format off */
	static const struct {
		const gchar *name;
		const gchar *pending;
		MuBootSystem system;
		MuBootCounter counter;
		MuBootVerdict verdict;
	} cases[] = {
		{ "nothing deployed", NULL, { GOOD }, { TRUE, 9, 3 }, MU_BOOT_NOTHING },
		{ "new version booted", FAILED, { FAILED }, { TRUE, 1, 3 }, MU_BOOT_TRIAL },
		{ "new version booted at the last try", FAILED, { FAILED }, { TRUE, 3, 3 },
		  MU_BOOT_TRIAL },
		{ "deployed, not rebooted yet", FAILED, { GOOD, FAILED }, { TRUE, 0, 3 },
		  MU_BOOT_WAITING },
		{ "old version, counter at the limit", FAILED, { GOOD, FAILED }, { TRUE, 3, 3 },
		  MU_BOOT_WAITING },
		{ "fell back", FAILED, { GOOD, FAILED }, { TRUE, 4, 3 }, MU_BOOT_ROLLED_BACK },
		{ "deployed, counter disarmed", FAILED, { GOOD, FAILED }, { FALSE, 4, 3 },
		  MU_BOOT_WAITING },
		{ "no booted deployment", FAILED, { NULL }, { TRUE, 4, 3 }, MU_BOOT_NOTHING },
		{ "armed, never deployed", FAILED, { GOOD }, { TRUE, 1, 3 }, MU_BOOT_ABORTED },
		{ "armed, never deployed, counter run out", FAILED, { GOOD }, { TRUE, 4, 3 },
		  MU_BOOT_ABORTED },
		{ "recorded, never armed nor deployed", FAILED, { GOOD }, { FALSE, 0, 3 },
		  MU_BOOT_ABORTED },
		{ "another update waits", FAILED, { GOOD, OTHER }, { TRUE, 0, 3 },
		  MU_BOOT_ABORTED },
		{ "armed, the install still deploying", FAILED, { GOOD, NULL, NULL, TRUE },
		  { TRUE, 0, 3 }, MU_BOOT_WAITING },
		{ "fell back, deployed behind", FAILED, { GOOD, NULL, NULL, FALSE, deployed },
		  { TRUE, 4, 3 }, MU_BOOT_ROLLED_BACK },
	};
	/* clang-format on */

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (MuDaemonState) state = mu_daemon_state_new ();

		g_test_message ("case: %s", cases[i].name);
		state->pending_commit = g_strdup (cases[i].pending);
		g_assert_cmpint (mu_boot_decide (state, &cases[i].system, &cases[i].counter), ==,
				 cases[i].verdict);
	}
}

static void
test_boot_arm_mark_good (Fixture *f, gconstpointer data)
{
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (MuDaemonState) saved = NULL;
	g_autoptr (GError) error = NULL;
	MuBootVerdict verdict = MU_BOOT_ROLLED_BACK;
	const MuBootSystem installing = { GOOD, NULL, NULL, TRUE };
	const MuBootSystem waiting = { GOOD, FAILED, "4" };
	const MuBootSystem booted = { FAILED };

	fake_reset ();
	fake.config = f->config;
	g_assert_true (
		mu_boot_arm (&fake_backend, f->config, state, &installing, FAILED, "4", &error));
	g_assert_no_error (error);
	g_assert_cmpuint (fake.arms, ==, 1);
	g_assert_cmpstr (state->pending_commit, ==, FAILED);
	g_assert_cmpstr (state->pending_version, ==, "4");
	saved = mu_daemon_state_load (f->config->state_dir);
	g_assert_cmpstr (saved->pending_commit, ==, FAILED);

	/* Marked good on the old version while the new one waits for its first boot (or
	 * is still being deployed): the counter stays armed for it. */
	g_assert_true (mu_boot_mark_good (&fake_backend, f->config, state, &installing, &error));
	g_assert_true (mu_boot_mark_good (&fake_backend, f->config, state, &waiting, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (fake.disarms, ==, 0);
	g_assert_true (fake.counter.armed);
	g_assert_cmpstr (state->pending_commit, ==, FAILED);
	g_assert_cmpstr (state->last_good_commit, ==, GOOD);

	/* The new version booted: a trial; nothing is touched. */
	fake.counter.count = 1;
	g_assert_true (mu_boot_check_rollback (&fake_backend, f->config, state, &booted,
					       fake_undeploy, &verdict, &error));
	g_assert_cmpint (verdict, ==, MU_BOOT_TRIAL);
	g_assert_cmpuint (fake.disarms, ==, 0);
	g_assert_cmpuint (fake.undeployed->len, ==, 0);

	/* It works: disarmed, recorded as good, no longer pending. */
	g_assert_true (mu_boot_mark_good (&fake_backend, f->config, state, &booted, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (fake.disarms, ==, 1);
	g_assert_false (fake.counter.armed);
	g_assert_cmpstr (state->last_good_commit, ==, FAILED);
	g_assert_null (state->pending_commit);
	g_assert_null (state->pending_version);

	/* A backend that cannot disarm: the error, and the state as it was. */
	g_assert_true (
		mu_boot_arm (&fake_backend, f->config, state, &installing, GOOD, NULL, &error));
	fake.fail_disarm = TRUE;
	g_assert_false (mu_boot_mark_good (&fake_backend, f->config, state, &(MuBootSystem){ GOOD },
					   &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
	g_assert_nonnull (strstr (error->message, "boot counter (fake): "));
	g_assert_cmpstr (state->last_good_commit, ==, FAILED);
	g_assert_cmpstr (state->pending_commit, ==, GOOD);
	fake_reset ();
}

/* A counter that cannot be armed stops the deploy: the record is as it was, saved. */
static void
test_boot_arm_fails (Fixture *f, gconstpointer data)
{
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (MuDaemonState) saved = NULL;
	g_autoptr (GError) error = NULL;
	const MuBootSystem system = { GOOD, OTHER, "3", TRUE };

	fake_reset ();
	state->pending_commit = g_strdup (OTHER);
	fake.fail_arm = TRUE;
	g_assert_false (
		mu_boot_arm (&fake_backend, f->config, state, &system, FAILED, "4", &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
	g_assert_nonnull (strstr (error->message, "boot counter (fake): "));
	g_assert_cmpstr (state->pending_commit, ==, OTHER);
	g_assert_null (state->previous_pending_commit);
	saved = mu_daemon_state_load (f->config->state_dir);
	g_assert_cmpstr (saved->pending_commit, ==, OTHER);
	g_assert_null (saved->previous_pending_commit);
	fake_reset ();
}

static void
test_boot_rollback (Fixture *f, gconstpointer data)
{
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) entries = NULL;
	MuBootVerdict verdict = MU_BOOT_NOTHING;
	/* U-Boot's altbootcmd booted the previous entry; the failed one is still the
	 * default. */
	const MuBootSystem fell_back = { GOOD, FAILED, "4" };
	const MuBootSystem undeployed = { GOOD };

	fake_reset ();
	state->last_good_commit = g_strdup (GOOD);
	g_assert_true (mu_boot_arm (&fake_backend, f->config, state,
				    &(MuBootSystem){ GOOD, NULL, NULL, TRUE }, FAILED, "4",
				    &error));
	/* Three boots of FAILED, then U-Boot's fourth runs altbootcmd: GOOD boots. */
	fake.counter.count = 4;

	/* The sysroot refuses the undeploy: reported; the counter stays armed and exhausted
	 * (so the boot loader keeps booting GOOD), the state still says pending. */
	fake.fail_undeploy = TRUE;
	g_assert_false (mu_boot_check_rollback (&fake_backend, f->config, state, &fell_back,
						fake_undeploy, &verdict, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_IO);
	g_assert_nonnull (strstr (error->message, "rollback: cannot remove"));
	g_clear_error (&error);
	g_assert_cmpuint (fake.disarms, ==, 0);
	g_assert_true (fake.counter.armed);
	g_assert_cmpstr (state->pending_commit, ==, FAILED);
	g_assert_null (state->rolled_back_commit);

	/* Marked good meanwhile: the counter stays exhausted, so GOOD keeps booting. */
	g_assert_true (mu_boot_mark_good (&fake_backend, f->config, state, &fell_back, &error));
	g_assert_cmpuint (fake.disarms, ==, 0);
	g_assert_true (mu_boot_counter_exhausted (&fake.counter));

	/* The next start manages. */
	fake.fail_undeploy = FALSE;
	g_assert_true (mu_boot_check_rollback (&fake_backend, f->config, state, &fell_back,
					       fake_undeploy, &verdict, &error));
	g_assert_no_error (error);
	g_assert_cmpint (verdict, ==, MU_BOOT_ROLLED_BACK);
	g_assert_cmpuint (fake.undeployed->len, ==, 1);
	g_assert_cmpstr (fake.undeployed->pdata[0], ==, FAILED);
	g_assert_cmpuint (fake.disarms, ==, 1);
	g_assert_false (fake.counter.armed);
	g_assert_null (state->pending_commit);
	g_assert_null (state->pending_version);
	g_assert_cmpstr (state->rolled_back_commit, ==, FAILED);
	g_assert_cmpstr (state->rolled_back_version, ==, "4");
	g_assert_cmpstr (state->last_good_commit, ==, GOOD);
	entries = mu_blacklist_load (f->config->state_dir, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (entries->len, ==, 1);
	g_assert_cmpstr (mu_blacklist_find (entries, FAILED)->version, ==, "4");

	/* Started again: nothing more to do. */
	g_assert_true (mu_boot_check_rollback (&fake_backend, f->config, state, &undeployed,
					       fake_undeploy, &verdict, &error));
	g_assert_cmpint (verdict, ==, MU_BOOT_NOTHING);
	g_assert_cmpuint (fake.undeployed->len, ==, 1);
	fake_reset ();
}

/* A rollback stopped after its undeploy (a power cut): finished at the next start, as a
 * rollback and not as an aborted trial. */
static void
test_boot_rollback_resumed (Fixture *f, gconstpointer data)
{
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (GError) error = NULL;
	MuBootVerdict verdict = MU_BOOT_NOTHING;

	fake_reset ();
	state->pending_commit = g_strdup (FAILED);
	state->pending_version = g_strdup ("4");
	fake.counter = (MuBootCounter){ .armed = TRUE, .count = 4, .limit = 3 };
	g_assert_true (mu_blacklist_add (f->config->state_dir, FAILED, "4", &error));
	g_assert_true (mu_boot_check_rollback (&fake_backend, f->config, state,
					       &(MuBootSystem){ GOOD }, fake_undeploy, &verdict,
					       &error));
	g_assert_no_error (error);
	g_assert_cmpint (verdict, ==, MU_BOOT_ROLLED_BACK);
	g_assert_false (fake.counter.armed);
	g_assert_null (state->pending_commit);
	g_assert_cmpstr (state->rolled_back_commit, ==, FAILED);
	fake_reset ();
}

/* Arming X2 while X1 waits for its first boot, then a power cut before X2's deploy: X1
 * boots (or still waits) and is on trial again, with the counter armed. */
static void
test_boot_abort_keeps_previous (Fixture *f, gconstpointer data)
{
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (GError) error = NULL;
	gboolean aborted = FALSE;

	fake_reset ();
	g_assert_true (mu_boot_arm (&fake_backend, f->config, state,
				    &(MuBootSystem){ GOOD, OTHER, "3", TRUE }, FAILED, "4",
				    &error));
	g_assert_cmpstr (state->previous_pending_commit, ==, OTHER);
	g_assert_true (mu_boot_abort (&fake_backend, f->config, state, &(MuBootSystem){ OTHER },
				      &aborted, &error));
	g_assert_no_error (error);
	g_assert_true (aborted);
	g_assert_cmpuint (fake.disarms, ==, 0);
	g_assert_true (fake.counter.armed);
	g_assert_cmpstr (state->pending_commit, ==, OTHER);
	g_assert_cmpstr (state->pending_version, ==, "3");
	g_assert_null (state->previous_pending_commit);
	fake_reset ();
}

/* ---- arming before the deploy, on real environment files ---- */

typedef struct {
	const gchar *backend;
	/* The environment with no trial under way, made for @f. */
	void (*make) (Fixture *f);
	/* Says whether the environment file says armed. */
	gboolean (*armed) (Fixture *f);
	/* The boot loader counted the boots of a trial past its limit. */
	void (*exhaust) (Fixture *f);
} EnvBackend;

static void
uboot_make (Fixture *f)
{
	g_free (make_uboot_env (f, "bootlimit=3\nbootcmd=run distro_bootcmd\n"));
}

static gboolean
uboot_armed (Fixture *f)
{
	g_autofree gchar *out = run ((const gchar *[]){ "fw_printenv", "-c",
							f->config->uboot_env_config, "-n",
							"upgrade_available", NULL });

	return g_str_equal (g_strstrip (out), "1");
}

static void
uboot_exhaust (Fixture *f)
{
	fw_set (f, "bootcount", "4");
}

static void
grub_make (Fixture *f)
{
	g_free (run ((const gchar *[]){ "grub-editenv", f->config->grubenv, "create", NULL }));
	g_free (run ((const gchar *[]){ "grub-editenv", f->config->grubenv, "set", "saved_entry=0",
					NULL }));
}

static gboolean
grub_armed (Fixture *f)
{
	g_autofree gchar *list = run (
		(const gchar *[]){ "grub-editenv", f->config->grubenv, "list", NULL });

	g_assert_nonnull (strstr (list, "saved_entry=0\n"));
	return strstr (list, "boot_success=0\n") != NULL;
}

static void
grub_exhaust (Fixture *f)
{
	g_free (run ((const gchar *[]){ "grub-editenv", f->config->grubenv, "set", "boot_counter=0",
					NULL }));
}

static const EnvBackend env_uboot = { "uboot", uboot_make, uboot_armed, uboot_exhaust };
static const EnvBackend env_grub = { "grub", grub_make, grub_armed, grub_exhaust };

static gboolean
have_tools (const EnvBackend *eb)
{
	if (g_str_equal (eb->backend, "uboot"))
		return have ("mkenvimage") && have ("fw_printenv");
	return have ("grub-editenv");
}

static void
assert_not_pending (Fixture *f)
{
	g_autoptr (MuDaemonState) saved = mu_daemon_state_load (f->config->state_dir);
	g_autoptr (GPtrArray) entries = NULL;
	g_autoptr (GError) error = NULL;

	g_assert_null (saved->pending_commit);
	g_assert_null (saved->pending_version);
	g_assert_null (saved->rolled_back_commit);
	entries = mu_blacklist_load (f->config->state_dir, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (entries->len, ==, 0);
}

/* What an install's deploy hooks do: arm before the deploy (the record saved), disarm
 * when the deploy fails. The sysroot here is no OSTree system: nothing is deployed. */
static void
test_boot_deploy_hooks (Fixture *f, gconstpointer data)
{
	const EnvBackend *eb = data;
	MuBootDeploy deploy = { .config = f->config };
	MuEngineDeployHooks hooks;
	g_autoptr (GError) error = NULL;
	g_autoptr (MuDaemonState) saved = NULL;

	if (!have_tools (eb))
		return;
	g_free (f->config->sysroot);
	f->config->sysroot = g_build_filename (f->dir, "no-sysroot", NULL);
	eb->make (f);
	deploy.backend = mu_boot_backend_get_by_name (eb->backend);
	mu_boot_deploy_hooks_init (&deploy, &hooks);
	g_assert_true (hooks.before_deploy (FAILED, "4", hooks.user_data, &error));
	g_assert_no_error (error);
	g_assert_true (deploy.armed);
	g_assert_true (eb->armed (f));
	saved = mu_daemon_state_load (f->config->state_dir);
	g_assert_cmpstr (saved->pending_commit, ==, FAILED);
	g_assert_cmpstr (saved->pending_version, ==, "4");

	hooks.deploy_failed (FAILED, hooks.user_data);
	g_assert_false (deploy.armed);
	g_assert_false (eb->armed (f));
	assert_not_pending (f);
	mu_boot_deploy_clear (&deploy);
}

/*
 * A power cut after the arming, before the deploy was written: the old version boots with
 * the counter armed. At start the trial is aborted: disarmed, no longer pending, nothing
 * blacklisted; also when the old version's boots ran the counter out meanwhile.
 */
static void
test_boot_aborted_at_start (Fixture *f, gconstpointer data)
{
	const EnvBackend *eb = data;
	const MuBootBackend *backend = mu_boot_backend_get_by_name (eb->backend);
	const MuBootSystem old_booted = { GOOD };

	if (!have_tools (eb))
		return;
	for (guint exhausted = 0; exhausted < 2; exhausted++) {
		g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
		g_autoptr (MuDaemonState) at_start = NULL;
		g_autoptr (GError) error = NULL;
		MuBootVerdict verdict = MU_BOOT_NOTHING;

		g_test_message ("counter %s", exhausted ? "run out" : "armed");
		fake_reset ();
		eb->make (f);
		g_assert_true (mu_boot_arm (backend, f->config, state,
					    &(MuBootSystem){ GOOD, NULL, NULL, TRUE }, FAILED, "4",
					    &error));
		g_assert_no_error (error);
		g_assert_true (eb->armed (f));
		if (exhausted)
			eb->exhaust (f);

		/* The power cut: the next start reads what was saved. */
		at_start = mu_daemon_state_load (f->config->state_dir);
		g_assert_cmpstr (at_start->pending_commit, ==, FAILED);
		g_assert_true (mu_boot_check_rollback (backend, f->config, at_start, &old_booted,
						       fake_undeploy, &verdict, &error));
		g_assert_no_error (error);
		g_assert_cmpint (verdict, ==, MU_BOOT_ABORTED);
		g_assert_false (eb->armed (f));
		g_assert_null (at_start->pending_commit);
		g_assert_cmpuint (fake.undeployed->len, ==, 0);
		assert_not_pending (f);

		/* Started again: nothing more to do. */
		g_assert_true (mu_boot_check_rollback (backend, f->config, at_start, &old_booted,
						       fake_undeploy, &verdict, &error));
		g_assert_cmpint (verdict, ==, MU_BOOT_NOTHING);
		g_remove (f->config->grubenv);
	}
	fake_reset ();
}

/* mark-good on the old version after such a power cut aborts the trial the same way. */
static void
test_boot_aborted_mark_good (Fixture *f, gconstpointer data)
{
	const EnvBackend *eb = data;
	const MuBootBackend *backend = mu_boot_backend_get_by_name (eb->backend);
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (GError) error = NULL;

	if (!have_tools (eb))
		return;
	eb->make (f);
	g_assert_true (mu_boot_arm (backend, f->config, state,
				    &(MuBootSystem){ GOOD, NULL, NULL, TRUE }, FAILED, "4",
				    &error));
	g_assert_true (
		mu_boot_mark_good (backend, f->config, state, &(MuBootSystem){ GOOD }, &error));
	g_assert_no_error (error);
	g_assert_false (eb->armed (f));
	g_assert_null (state->pending_commit);
	g_assert_cmpstr (state->last_good_commit, ==, GOOD);
	assert_not_pending (f);
}

/* The state file keeps what the rollback recorded across a restart. */
static void
test_boot_state_saved (Fixture *f, gconstpointer data)
{
	g_autoptr (MuDaemonState) state = mu_daemon_state_new ();
	g_autoptr (MuDaemonState) loaded = NULL;
	g_autoptr (GError) error = NULL;

	state->rolled_back_commit = g_strdup (FAILED);
	state->rolled_back_version = g_strdup ("4");
	state->last_good_commit = g_strdup (GOOD);
	g_assert_true (mu_daemon_state_save (state, f->config->state_dir, &error));
	g_assert_no_error (error);
	loaded = mu_daemon_state_load (f->config->state_dir);
	g_assert_cmpstr (loaded->rolled_back_commit, ==, FAILED);
	g_assert_cmpstr (loaded->rolled_back_version, ==, "4");
	g_assert_cmpstr (loaded->last_good_commit, ==, GOOD);
	g_assert_null (loaded->pending_commit);
}

static void
test_boot_backends_by_name (void)
{
	const gchar *names[] = { "none", "uboot", "grub" };

	for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
		const MuBootBackend *b = mu_boot_backend_get_by_name (names[i]);

		g_assert_nonnull (b);
		g_assert_cmpstr (b->name, ==, names[i]);
		g_assert_cmpint (b->counts, ==, i != 0);
		g_assert_nonnull (b->arm);
		g_assert_nonnull (b->disarm);
		g_assert_nonnull (b->read);
	}
	g_assert_null (mu_boot_backend_get_by_name ("efi"));
}

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
#define ADD_ENV(path, func, eb)                                                                    \
	g_test_add (path, Fixture, eb, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	/* The rolled-back event is a warning by design. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_test_add_func ("/boot/backends-by-name", test_boot_backends_by_name);
	g_test_add_func ("/boot/grubenv/refusals", test_grubenv_refusals);
	ADD ("/boot/grubenv/interop", test_grubenv_interop);
	ADD ("/boot/grub/counter", test_grub_backend);
	ADD ("/boot/grub/corrupt", test_grub_backend_corrupt);
	ADD ("/boot/uboot/counter", test_uboot_backend);
	ADD ("/boot/uboot/no-limit", test_uboot_backend_no_limit);
	ADD ("/boot/uboot/corrupt", test_uboot_backend_corrupt);
	g_test_add_func ("/boot/decide", test_boot_decide);
	ADD ("/boot/arm-mark-good", test_boot_arm_mark_good);
	ADD ("/boot/arm-fails", test_boot_arm_fails);
	ADD ("/boot/rollback", test_boot_rollback);
	ADD ("/boot/rollback-resumed", test_boot_rollback_resumed);
	ADD ("/boot/abort-keeps-previous", test_boot_abort_keeps_previous);
	ADD_ENV ("/boot/uboot/deploy-hooks", test_boot_deploy_hooks, &env_uboot);
	ADD_ENV ("/boot/grub/deploy-hooks", test_boot_deploy_hooks, &env_grub);
	ADD_ENV ("/boot/uboot/aborted-at-start", test_boot_aborted_at_start, &env_uboot);
	ADD_ENV ("/boot/grub/aborted-at-start", test_boot_aborted_at_start, &env_grub);
	ADD_ENV ("/boot/uboot/aborted-mark-good", test_boot_aborted_mark_good, &env_uboot);
	ADD_ENV ("/boot/grub/aborted-mark-good", test_boot_aborted_mark_good, &env_grub);
	ADD ("/boot/state-saved", test_boot_state_saved);
	return g_test_run ();
}
