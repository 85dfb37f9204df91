/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>

#include "mu-bundle.h"
#include "mu-config.h"
#include "mu-error.h"

static MuConfig *
parse (const gchar *text, GError **error)
{
	g_autoptr (GBytes) bytes = g_bytes_new_static (text, strlen (text));

	return mu_config_new_from_bytes (bytes, "test.conf", error);
}

static void
test_config_defaults (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = parse ("", &error);

	g_assert_no_error (error);
	g_assert_cmpstr (config->sysroot, ==, "/");
	g_assert_false (config->allow_downgrade);
	g_assert_false (config->require_bindings);
	g_assert_cmpstr (config->bundle_names[0], ==, "static-update.bundle.enc");
	g_assert_null (config->bundle_names[1]);
	g_assert_true (g_strv_contains ((const gchar *const *) config->key_dirs,
					MEDIAUPD_SYSCONFDIR "/keys"));
	g_assert_true (g_strv_contains ((const gchar *const *) config->trusted,
					"/etc/ostree/trusted.ed25519.d"));
	g_assert_true (g_strv_contains ((const gchar *const *) config->revoked,
					"/usr/share/ostree/revoked.ed25519"));
	g_assert_cmpuint (config->free_space_margin, ==, 64 * 1024 * 1024);
	/* Only format v2, authenticated before anything is decrypted. */
	g_assert_cmpuint (config->bundle_formats, ==, MU_BUNDLE_FORMAT_BIT (2));
}

/* [Bundle] Formats=: the lists people write, and what is refused. */
static void
test_config_formats (void)
{
	static const struct {
		const gchar *value;
		guint formats; /* 0: refused */
		const gchar *in_message;
	} cases[] = {
		{ "2", MU_BUNDLE_FORMAT_BIT (2), NULL },
		{ "1;2", MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2), NULL },
		{ "1 2", MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2), NULL },
		{ "2, 1", MU_BUNDLE_FORMAT_BIT (1) | MU_BUNDLE_FORMAT_BIT (2), NULL },
		{ "1", MU_BUNDLE_FORMAT_BIT (1), NULL },
		{ "2;2;", MU_BUNDLE_FORMAT_BIT (2), NULL },
		{ "", 0, "give at least one bundle format" },
		{ ";", 0, "give at least one bundle format" },
		{ "3", 0, "'3' is not a bundle format" },
		{ "0", 0, "'0' is not a bundle format" },
		{ "v2", 0, "'v2' is not a bundle format" },
		{ "1;-2", 0, "'-2' is not a bundle format" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		g_autofree gchar *text = g_strdup_printf ("[Bundle]\nFormats=%s\n", cases[i].value);
		g_autoptr (MuConfig) config = parse (text, &error);

		g_test_message ("Formats=%s", cases[i].value);
		if (cases[i].formats != 0) {
			g_assert_no_error (error);
			g_assert_cmpuint (config->bundle_formats, ==, cases[i].formats);
			continue;
		}
		g_assert_null (config);
		g_assert_error (error, MU_ERROR, MU_ERROR_CONFIG);
		g_assert_nonnull (strstr (error->message, "[Bundle] Formats"));
		g_assert_nonnull (strstr (error->message, cases[i].in_message));
	}
}

static void
test_config_all_keys (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) config = parse ("[Keys]\n"
					     "Directories=/k1;/k2\n"
					     "[Trust]\n"
					     "Trusted=/t\n"
					     "Revoked=/r1;/r2;\n"
					     "[Bundle]\n"
					     "Names=a.enc;b.enc\n"
					     "MaxSize=100\n"
					     "[Update]\n"
					     "Sysroot=/tmp/sysroot\n"
					     "AllowDowngrade=true\n"
					     "RequireBindings=true\n"
					     "FreeSpaceMarginMiB=0\n"
					     "[Paths]\n"
					     "StateDirectory=/tmp/state\n"
					     "RuntimeDirectory=/tmp/run\n",
					     &error);

	g_assert_no_error (error);
	g_assert_cmpuint (g_strv_length (config->key_dirs), ==, 2);
	g_assert_cmpstr (config->key_dirs[1], ==, "/k2");
	g_assert_cmpstr (config->trusted[0], ==, "/t");
	g_assert_cmpuint (g_strv_length (config->revoked), ==, 2);
	g_assert_cmpstr (config->bundle_names[1], ==, "b.enc");
	g_assert_cmpuint (config->bundle_max_size, ==, 100 * 1024 * 1024);
	g_assert_cmpstr (config->sysroot, ==, "/tmp/sysroot");
	g_assert_true (config->allow_downgrade);
	g_assert_true (config->require_bindings);
	g_assert_cmpuint (config->free_space_margin, ==, 0);
	g_assert_cmpstr (config->state_dir, ==, "/tmp/state");
	g_assert_cmpstr (config->runtime_dir, ==, "/tmp/run");
}

/* [Boot]: the defaults of a device, and each key. */
static void
test_config_boot (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) defaults = parse ("", &error);
	g_autoptr (MuConfig) config = parse ("[Boot]\n"
					     "Backend=grub\n"
					     "GrubEnv=/efi/grubenv\n"
					     "UBootEnvConfig=/tmp/fw_env.config\n"
					     "BootLimit=5\n",
					     &error);

	g_assert_no_error (error);
	g_assert_cmpstr (defaults->boot_backend, ==, "none");
	g_assert_cmpstr (defaults->uboot_env_config, ==, "/etc/fw_env.config");
	g_assert_cmpstr (defaults->grubenv, ==, "/boot/grub/grubenv");
	g_assert_cmpuint (defaults->boot_limit, ==, 3);
	g_assert_cmpstr (config->boot_backend, ==, "grub");
	g_assert_cmpstr (config->grubenv, ==, "/efi/grubenv");
	g_assert_cmpstr (config->uboot_env_config, ==, "/tmp/fw_env.config");
	g_assert_cmpuint (config->boot_limit, ==, 5);
}

/* Each malformed file is refused with MU_ERROR_CONFIG and a message naming the culprit. */
static void
test_config_strict (void)
{
	const struct {
		const gchar *text;
		const gchar *in_message;
	} cases[] = {
		{ "[Keys]\nDirectory=/k\n", "unknown key 'Directory' in [Keys]" },
		{ "[Key]\nDirectories=/k\n", "unknown group [Key]" },
		{ "[Update]\nAllowDowngrade=yes please\n", "AllowDowngrade" },
		{ "[Update]\nRequireBindings=1x\n", "RequireBindings" },
		{ "[Update]\nSysroot=relative/path\n", "not an absolute path" },
		{ "[Keys]\nDirectories=/ok;relative\n", "'relative' is not an absolute path" },
		{ "[Bundle]\nNames=../escape.enc\n", "not a plain file name" },
		{ "[Bundle]\nNames=\n", "at least one bundle file name" },
		{ "[Bundle]\nMaxSize=-1\n", "MaxSize" },
		{ "[Bundle]\nMaxSize=12abc\n", "MaxSize" },
		{ "[Update]\nFreeSpaceMarginMiB=99999999999\n", "FreeSpaceMarginMiB" },
		{ "no group at all\n", "test.conf" },
		{ "[Update]\nSysroot=/a\nSysroot=/b\n", "Sysroot is given more than once" },
		{ "[Update]\nSysroot=/a\n[Update]\nExtra=1\n", "unknown key 'Extra'" },
		{ "[Boot]\nBackend=efi\n", "'efi' is not one of none, uboot, grub" },
		{ "[Boot]\nBootLimit=0\n", "[Boot] BootLimit: expected a whole number from 1" },
		{ "[Boot]\nGrubEnv=grubenv\n", "not an absolute path" },
		{ "[Boot]\nUBootEnvConfig=fw_env.config\n", "not an absolute path" },
		/* Found by fuzz/fuzz-config (fuzz/regressions/config/): an unknown escape
		 * and a trailing backslash made GLib warn that it set an error twice. */
		{ "[Bundle]\nFormats=2\t\\o\\\n", "[Bundle] Formats ends in an escape character" },
		{ "[Keys]\nDirectories=/a\\q;/b\\\n", "[Keys] Directories ends in an escape" },
		{ "[Reboot]\nPolicy=\\\n", "[Reboot] Policy ends in an escape character" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		g_autoptr (MuConfig) config = parse (cases[i].text, &error);

		g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].text);
		g_assert_null (config);
		g_assert_error (error, MU_ERROR, MU_ERROR_CONFIG);
		g_test_message ("-> %s", error->message);
		g_assert_nonnull (strstr (error->message, cases[i].in_message));
	}
}

/* [Unlock]: defaults for a small board, each key, and each bad value refused. */
static void
test_config_unlock (void)
{
	const struct {
		const gchar *text;
		const gchar *in_message;
	} bad[] = {
		{ "[Unlock]\nCiphers=cipher_null-ecb\n",
		  "'cipher_null-ecb' is not a LUKS2 cipher" },
		{ "[Unlock]\nCiphers=capi:ecb(cipher_null)\n", "is not a LUKS2 cipher" },
		{ "[Unlock]\nCiphers=AES XTS\n", "is not a LUKS2 cipher" },
		{ "[Unlock]\nFilesystems=vfat\n", "'vfat' is not erofs, squashfs or ext4" },
		{ "[Unlock]\nFilesystems=\n", "[Unlock] Filesystems: give at least one" },
		{ "[Unlock]\nMaxPbkdf2Iterations=999\n", "MaxPbkdf2Iterations" },
		{ "[Unlock]\nMaxArgon2Time=0\n", "MaxArgon2Time" },
		{ "[Unlock]\nMaxArgon2MemoryKiB=4194305\n", "MaxArgon2MemoryKiB" },
		{ "[Unlock]\nMaxArgon2Threads=65535\n",
		  "MaxArgon2Threads: expected a whole number from 1 to 16" },
		{ "[Unlock]\nMaxTrialSeconds=0\n", "MaxTrialSeconds" },
		{ "[Unlock]\nMaxTrials=3\n", "unknown key 'MaxTrials' in [Unlock]" },
	};
	g_autoptr (GError) error = NULL;
	g_autoptr (MuConfig) defaults = parse ("", &error);
	g_autoptr (MuConfig) config = NULL;

	g_assert_no_error (error);
	g_assert_cmpuint (g_strv_length (defaults->unlock_ciphers), ==, 0);
	g_assert_cmpuint (g_strv_length (defaults->unlock_filesystems), ==, 2);
	g_assert_cmpstr (defaults->unlock_filesystems[0], ==, "erofs");
	g_assert_cmpstr (defaults->unlock_filesystems[1], ==, "squashfs");
	g_assert_cmpuint (defaults->pbkdf2_max_iterations, ==, 1000000);
	g_assert_cmpuint (defaults->argon2_max_time, ==, 16);
	g_assert_cmpuint (defaults->argon2_max_memory_kib, ==, 256 * 1024);
	g_assert_cmpuint (defaults->argon2_max_threads, ==, 4);
	g_assert_cmpuint (defaults->max_trial_seconds, ==, 60);

	config = parse ("[Unlock]\n"
			"Ciphers=xchacha12,aes-adiantum-plain64;serpent-xts-plain64\n"
			"Filesystems=erofs;ext4\n"
			"MaxPbkdf2Iterations=2000\n"
			"MaxArgon2Time=4\n"
			"MaxArgon2MemoryKiB=65536\n"
			"MaxArgon2Threads=1\n"
			"MaxTrialSeconds=5\n",
			&error);
	g_assert_no_error (error);
	g_assert_cmpuint (g_strv_length (config->unlock_ciphers), ==, 2);
	g_assert_cmpstr (config->unlock_ciphers[0], ==, "xchacha12,aes-adiantum-plain64");
	g_assert_true (g_strv_contains ((const gchar *const *) config->unlock_filesystems, "ext4"));
	g_assert_cmpuint (config->pbkdf2_max_iterations, ==, 2000);
	g_assert_cmpuint (config->argon2_max_time, ==, 4);
	g_assert_cmpuint (config->argon2_max_memory_kib, ==, 65536);
	g_assert_cmpuint (config->argon2_max_threads, ==, 1);
	g_assert_cmpuint (config->max_trial_seconds, ==, 5);

	for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
		g_autoptr (GError) bad_error = NULL;
		g_autoptr (MuConfig) refused = parse (bad[i].text, &bad_error);

		g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, bad[i].text);
		g_assert_null (refused);
		g_assert_error (bad_error, MU_ERROR, MU_ERROR_CONFIG);
		g_test_message ("-> %s", bad_error->message);
		g_assert_nonnull (strstr (bad_error->message, bad[i].in_message));
	}
}

static void
test_config_file (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp ("mu-config-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename (dir, "mediaupd.conf", NULL);
	g_autoptr (MuConfig) missing = NULL;
	g_autoptr (MuConfig) loaded = NULL;
	g_autoptr (MuConfig) refused = NULL;

	g_assert_no_error (error);
	missing = mu_config_new_from_file (path, TRUE, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (missing->sysroot, ==, "/");

	refused = mu_config_new_from_file (path, FALSE, &error);
	g_assert_null (refused);
	g_assert_error (error, MU_ERROR, MU_ERROR_CONFIG);
	g_clear_error (&error);

	g_assert_true (g_file_set_contents (path, "[Update]\nSysroot=/x\n", -1, &error));
	loaded = mu_config_new_from_file (path, FALSE, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (loaded->sysroot, ==, "/x");

	g_assert_true (g_file_set_contents (path, "[Update]\nBogus=1\n", -1, &error));
	g_clear_pointer (&refused, mu_config_free);
	refused = mu_config_new_from_file (path, TRUE, &error);
	g_assert_null (refused);
	g_assert_error (error, MU_ERROR, MU_ERROR_CONFIG);
	g_assert_nonnull (strstr (error->message, path));
	g_unlink (path);
	g_rmdir (dir);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/config/defaults", test_config_defaults);
	g_test_add_func ("/config/all-keys", test_config_all_keys);
	g_test_add_func ("/config/formats", test_config_formats);
	g_test_add_func ("/config/strict", test_config_strict);
	g_test_add_func ("/config/file", test_config_file);
	g_test_add_func ("/config/unlock", test_config_unlock);
	g_test_add_func ("/config/boot", test_config_boot);
	return g_test_run ();
}
