/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-config.h"
#include "mu-bundle-format.h"
#include "mu-bundle.h"
#include "mu-error.h"
#include "mu-file.h"
#include "mu-unlock.h"

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)

MuConfig *
mu_config_new_defaults (void)
{
	MuConfig *config = g_new0 (MuConfig, 1);
	const gchar *key_dirs[] = { MEDIAUPD_DATADIR "/keys", MEDIAUPD_SYSCONFDIR "/keys", NULL };
	const gchar *trusted[] = { "/etc/ostree/trusted.ed25519", "/etc/ostree/trusted.ed25519.d",
				   "/usr/share/ostree/trusted.ed25519",
				   "/usr/share/ostree/trusted.ed25519.d", NULL };
	const gchar *revoked[] = { "/etc/ostree/revoked.ed25519", "/etc/ostree/revoked.ed25519.d",
				   "/usr/share/ostree/revoked.ed25519",
				   "/usr/share/ostree/revoked.ed25519.d", NULL };
	const gchar *names[] = { MU_BUNDLE_DEFAULT_NAME, NULL };
	const gchar *filesystems[] = { MU_UNLOCK_FILESYSTEMS_DEFAULT, NULL };
	MuPbkdfLimits limits;

	config->key_dirs = g_strdupv ((GStrv) key_dirs);
	config->trusted = g_strdupv ((GStrv) trusted);
	config->revoked = g_strdupv ((GStrv) revoked);
	config->bundle_names = g_strdupv ((GStrv) names);
	config->bundle_max_size = 16384 * MIB;
	config->bundle_formats = MU_BUNDLE_FORMATS_DEFAULT;
	config->sysroot = g_strdup ("/");
	config->allow_downgrade = FALSE;
	config->require_bindings = FALSE;
	config->free_space_margin = 64 * MIB;
	config->state_dir = g_strdup ("/var/lib/mediaupd");
	config->runtime_dir = g_strdup ("/run/mediaupd");
	config->unlock_ciphers = g_new0 (gchar *, 1);
	config->unlock_filesystems = g_strdupv ((GStrv) filesystems);
	mu_pbkdf_limits_init (&limits);
	config->pbkdf2_max_iterations = limits.pbkdf2_max_iterations;
	config->argon2_max_time = limits.argon2_max_time;
	config->argon2_max_memory_kib = limits.argon2_max_memory_kib;
	config->argon2_max_threads = limits.argon2_max_threads;
	config->max_trial_seconds = limits.max_trial_seconds;
	config->media_source = g_strdup ("udisks");
	config->reboot_policy = g_strdup ("after-removal");
	config->boot_backend = g_strdup ("none");
	config->uboot_env_config = g_strdup ("/etc/fw_env.config");
	config->grubenv = g_strdup ("/boot/grub/grubenv");
	config->boot_limit = 3;
	return config;
}

void
mu_config_free (MuConfig *config)
{
	if (config == NULL)
		return;
	g_strfreev (config->key_dirs);
	g_strfreev (config->trusted);
	g_strfreev (config->revoked);
	g_strfreev (config->bundle_names);
	g_free (config->sysroot);
	g_free (config->state_dir);
	g_free (config->runtime_dir);
	g_strfreev (config->unlock_ciphers);
	g_strfreev (config->unlock_filesystems);
	g_free (config->media_source);
	g_free (config->reboot_policy);
	g_free (config->boot_backend);
	g_free (config->uboot_env_config);
	g_free (config->grubenv);
	g_free (config);
}

static gboolean
path_is_acceptable (const gchar *path)
{
	return path != NULL && g_path_is_absolute (path) && strlen (path) < 4096;
}

/* Bundle names are looked up at the root of the medium: plain names only. */
static gboolean
bundle_name_is_acceptable (const gchar *name)
{
	return name != NULL && *name != '\0' && *name != '.' && strchr (name, '/') == NULL &&
	       strlen (name) <= 255;
}

static gboolean
consume_path_list (GKeyFile *kf, const gchar *group, const gchar *key, gboolean plain_names,
		   GStrv *value, GError **error)
{
	g_auto (GStrv) list = NULL;
	g_autoptr (GError) local_error = NULL;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	list = g_key_file_get_string_list (kf, group, key, NULL, &local_error);
	if (list == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: %s", group, key,
			     local_error->message);
		return FALSE;
	}
	for (guint i = 0; list[i] != NULL; i++) {
		gboolean ok = plain_names ? bundle_name_is_acceptable (list[i])
					  : path_is_acceptable (list[i]);
		if (!ok) {
			g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: '%s' is not %s",
				     group, key, list[i],
				     plain_names ? "a plain file name" : "an absolute path");
			return FALSE;
		}
	}
	if (plain_names && list[0] == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
			     "[%s] %s: give at least one bundle file name", group, key);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	g_strfreev (*value);
	*value = g_steal_pointer (&list);
	return TRUE;
}

static gboolean
consume_path (GKeyFile *kf, const gchar *group, const gchar *key, gchar **value, GError **error)
{
	g_autofree gchar *str = NULL;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	str = g_key_file_get_string (kf, group, key, NULL);
	if (!path_is_acceptable (str)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
			     "[%s] %s: '%s' is not an absolute path", group, key,
			     str != NULL ? str : "");
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	g_free (*value);
	*value = g_steal_pointer (&str);
	return TRUE;
}

static gboolean
consume_boolean (GKeyFile *kf, const gchar *group, const gchar *key, gboolean *value,
		 GError **error)
{
	g_autoptr (GError) local_error = NULL;
	gboolean b;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	b = g_key_file_get_boolean (kf, group, key, &local_error);
	if (local_error != NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: expected true or false",
			     group, key);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	*value = b;
	return TRUE;
}

static gboolean
consume_mib (GKeyFile *kf, const gchar *group, const gchar *key, guint64 max_mib, guint64 *value,
	     GError **error)
{
	g_autofree gchar *str = NULL;
	guint64 mib = 0;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	str = g_key_file_get_string (kf, group, key, NULL);
	if (str == NULL ||
	    !g_ascii_string_to_unsigned (g_strstrip (str), 10, 0, max_mib, &mib, NULL)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
			     "[%s] %s: expected a whole number of MiB from 0 to %" G_GUINT64_FORMAT,
			     group, key, max_mib);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	*value = mib * MIB;
	return TRUE;
}

static gboolean
consume_uint (GKeyFile *kf, const gchar *group, const gchar *key, guint32 min, guint32 max,
	      guint32 *value, GError **error)
{
	g_autofree gchar *str = NULL;
	guint64 number = 0;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	str = g_key_file_get_string (kf, group, key, NULL);
	if (str == NULL ||
	    !g_ascii_string_to_unsigned (g_strstrip (str), 10, min, max, &number, NULL)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
			     "[%s] %s: expected a whole number from %u to %u", group, key, min,
			     max);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	*value = (guint32) number;
	return TRUE;
}

/* A LUKS2 cipher spec as cryptsetup names it ("aes-xts-plain64",
 * "xchacha12,aes-adiantum-plain64"); never one that encrypts nothing. */
static gboolean
cipher_is_acceptable (const gchar *cipher)
{
	g_autofree gchar *lower = g_ascii_strdown (cipher, -1);

	if (*cipher == '\0' || strlen (cipher) > 64 || strstr (lower, "null") != NULL)
		return FALSE;
	for (const gchar *p = cipher; *p != '\0'; p++) {
		if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && strchr ("-_,()", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

/* A list whose every item @acceptable admits; @what names one item in errors. */
static gboolean
consume_word_list (GKeyFile *kf, const gchar *group, const gchar *key,
		   gboolean (*acceptable) (const gchar *), const gchar *what, gboolean need_one,
		   GStrv *value, GError **error)
{
	g_auto (GStrv) list = NULL;
	g_autoptr (GError) local_error = NULL;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	list = g_key_file_get_string_list (kf, group, key, NULL, &local_error);
	if (list == NULL &&
	    !g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: %s", group, key,
			     local_error->message);
		return FALSE;
	}
	if (list == NULL)
		list = g_new0 (gchar *, 1);
	for (guint i = 0; list[i] != NULL; i++) {
		g_strstrip (list[i]);
		if (!acceptable (list[i])) {
			g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: '%s' is not %s",
				     group, key, list[i], what);
			return FALSE;
		}
	}
	if (need_one && list[0] == NULL) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: give at least one", group,
			     key);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	g_strfreev (*value);
	*value = g_steal_pointer (&list);
	return TRUE;
}

/* [Bundle] Formats=: format versions, separated by ';', ',' or blanks ("1;2", "1 2"). */
static gboolean
consume_formats (GKeyFile *kf, const gchar *group, const gchar *key, guint *value, GError **error)
{
	g_autofree gchar *str = NULL;
	g_auto (GStrv) words = NULL;
	guint formats = 0;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	str = g_key_file_get_string (kf, group, key, NULL);
	words = g_strsplit_set (str != NULL ? str : "", "; \t,", -1);
	for (guint i = 0; words[i] != NULL; i++) {
		guint64 version = 0;

		if (words[i][0] == '\0')
			continue;
		if (!g_ascii_string_to_unsigned (words[i], 10, 1, MU_BUNDLE_FORMAT_V2, &version,
						 NULL)) {
			g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
				     "[%s] %s: '%s' is not a bundle format this mediaupd knows (1 "
				     "or 2)",
				     group, key, words[i]);
			return FALSE;
		}
		formats |= MU_BUNDLE_FORMAT_BIT ((guint) version);
	}
	if (formats == 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
			     "[%s] %s: give at least one bundle format (2, or 1;2)", group, key);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	*value = formats;
	return TRUE;
}

static gboolean
filesystem_is_acceptable (const gchar *type)
{
	const gchar *known[] = { "erofs", "squashfs", "ext4", NULL };

	return g_strv_contains (known, type);
}

static gboolean
consume_unlock (GKeyFile *kf, MuConfig *c, GError **error)
{
	const gchar *g = "Unlock";

	return consume_word_list (kf, g, "Ciphers", cipher_is_acceptable,
				  "a LUKS2 cipher such as xchacha12,aes-adiantum-plain64", FALSE,
				  &c->unlock_ciphers, error) &&
	       consume_word_list (kf, g, "Filesystems", filesystem_is_acceptable,
				  "erofs, squashfs or ext4", TRUE, &c->unlock_filesystems, error) &&
	       consume_uint (kf, g, "MaxPbkdf2Iterations", 1000, 100000000,
			     &c->pbkdf2_max_iterations, error) &&
	       consume_uint (kf, g, "MaxArgon2Time", 4, 1000, &c->argon2_max_time, error) &&
	       consume_uint (kf, g, "MaxArgon2MemoryKiB", 32, 4194304, &c->argon2_max_memory_kib,
			     error) &&
	       consume_uint (kf, g, "MaxArgon2Threads", 1, 16, &c->argon2_max_threads, error) &&
	       consume_uint (kf, g, "MaxTrialSeconds", 1, 3600, &c->max_trial_seconds, error);
}

/* One word out of @choices. */
static gboolean
consume_choice (GKeyFile *kf, const gchar *group, const gchar *key, const gchar *const *choices,
		gchar **value, GError **error)
{
	g_autofree gchar *str = NULL;
	g_autofree gchar *list = NULL;

	if (!g_key_file_has_key (kf, group, key, NULL))
		return TRUE;
	str = g_key_file_get_string (kf, group, key, NULL);
	if (str == NULL || !g_strv_contains (choices, g_strstrip (str))) {
		list = g_strjoinv (", ", (GStrv) choices);
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "[%s] %s: '%s' is not one of %s",
			     group, key, str != NULL ? str : "", list);
		return FALSE;
	}
	g_key_file_remove_key (kf, group, key, NULL);
	g_free (*value);
	*value = g_steal_pointer (&str);
	return TRUE;
}

static gboolean
consume_daemon (GKeyFile *kf, MuConfig *c, GError **error)
{
	const gchar *sources[] = { "udisks", "none", NULL };
	const gchar *policies[] = { "after-removal", "immediate", "never", NULL };
	const gchar *backends[] = { "none", "uboot", "grub", NULL };

	return consume_choice (kf, "Media", "Source", sources, &c->media_source, error) &&
	       consume_choice (kf, "Reboot", "Policy", policies, &c->reboot_policy, error) &&
	       consume_choice (kf, "Boot", "Backend", backends, &c->boot_backend, error) &&
	       consume_path (kf, "Boot", "UBootEnvConfig", &c->uboot_env_config, error) &&
	       consume_path (kf, "Boot", "GrubEnv", &c->grubenv, error) &&
	       consume_uint (kf, "Boot", "BootLimit", 1, 100, &c->boot_limit, error);
}

/* Whatever is left after consuming the known keys is a mistake in the file. */
static gboolean
check_nothing_left (GKeyFile *kf, GError **error)
{
	g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto (GStrv) keys = g_key_file_get_keys (kf, groups[i], NULL, NULL);

		if (keys != NULL && keys[0] != NULL) {
			g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "unknown key '%s' in [%s]",
				     keys[0], groups[i]);
			return FALSE;
		}
	}
	return TRUE;
}

/* A key given twice is a mistake: say so rather than silently taking the last one. */
static gboolean
check_no_duplicates (GKeyFile *kf, const gchar *group, GError **error)
{
	g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);
	g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!g_hash_table_add (seen, keys[i])) {
			g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
				     "[%s] %s is given more than once", group, keys[i]);
			return FALSE;
		}
	}
	return TRUE;
}

/* A value that ends in a lone backslash escapes nothing. Refused here, before GLib reads
 * it: GLib 2.74's g_key_file_get_string() sets its error twice (and warns) when such a
 * value also holds an unknown escape, as in  Formats=2\o\  */
static gboolean
check_escapes (GKeyFile *kf, const gchar *group, GError **error)
{
	g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		g_autofree gchar *raw = g_key_file_get_value (kf, group, keys[i], NULL);

		for (const gchar *p = raw; p != NULL && *p != '\0'; p++) {
			if (*p != '\\')
				continue;
			if (p[1] == '\0') {
				g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
					     "[%s] %s ends in an escape character; write '\\\\' for "
					     "a backslash",
					     group, keys[i]);
				return FALSE;
			}
			p++;
		}
	}
	return TRUE;
}

static gboolean
check_groups (GKeyFile *kf, GError **error)
{
	const gchar *known[] = { "Keys",  "Trust", "Bundle", "Update", "Unlock",
				 "Paths", "Media", "Reboot", "Boot",   NULL };
	g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		if (!g_strv_contains (known, groups[i])) {
			g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
				     "unknown group [%s]; known groups are [Keys], [Trust], "
				     "[Bundle], [Update], [Unlock], [Paths], [Media], [Reboot] "
				     "and [Boot]",
				     groups[i]);
			return FALSE;
		}
		if (!check_no_duplicates (kf, groups[i], error) ||
		    !check_escapes (kf, groups[i], error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
consume_all (GKeyFile *kf, MuConfig *c, GError **error)
{
	return check_groups (kf, error) &&
	       consume_path_list (kf, "Keys", "Directories", FALSE, &c->key_dirs, error) &&
	       consume_path_list (kf, "Trust", "Trusted", FALSE, &c->trusted, error) &&
	       consume_path_list (kf, "Trust", "Revoked", FALSE, &c->revoked, error) &&
	       consume_path_list (kf, "Bundle", "Names", TRUE, &c->bundle_names, error) &&
	       consume_mib (kf, "Bundle", "MaxSize", G_GUINT64_CONSTANT (1) << 24,
			    &c->bundle_max_size, error) &&
	       consume_formats (kf, "Bundle", "Formats", &c->bundle_formats, error) &&
	       consume_path (kf, "Update", "Sysroot", &c->sysroot, error) &&
	       consume_boolean (kf, "Update", "AllowDowngrade", &c->allow_downgrade, error) &&
	       consume_boolean (kf, "Update", "RequireBindings", &c->require_bindings, error) &&
	       consume_mib (kf, "Update", "FreeSpaceMarginMiB", G_GUINT64_CONSTANT (1) << 20,
			    &c->free_space_margin, error) &&
	       consume_path (kf, "Paths", "StateDirectory", &c->state_dir, error) &&
	       consume_path (kf, "Paths", "RuntimeDirectory", &c->runtime_dir, error) &&
	       consume_unlock (kf, c, error) && consume_daemon (kf, c, error) &&
	       check_nothing_left (kf, error);
}

MuConfig *
mu_config_new_from_bytes (GBytes *data, const gchar *origin, GError **error)
{
	g_autoptr (GKeyFile) kf = g_key_file_new ();
	g_autoptr (MuConfig) config = mu_config_new_defaults ();
	g_autoptr (GError) local_error = NULL;
	gsize len = 0;
	const gchar *text = g_bytes_get_data (data, &len);

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (!g_key_file_load_from_data (kf, text != NULL ? text : "", len, G_KEY_FILE_NONE,
					&local_error)) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG, "%s: %s", origin,
			     local_error->message);
		return NULL;
	}
	if (!consume_all (kf, config, error)) {
		g_prefix_error (error, "%s: ", origin);
		return NULL;
	}
	return g_steal_pointer (&config);
}

MuConfig *
mu_config_new_from_file (const gchar *path, gboolean missing_ok, GError **error)
{
	g_autoptr (GError) local_error = NULL;
	g_autoptr (GBytes) bytes = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	bytes = mu_file_read_regular (path, MU_CONFIG_FILE_MAX_SIZE, MU_FILE_NONE, MU_ERROR_CONFIG,
				      &local_error);
	if (bytes == NULL) {
		if (missing_ok && g_error_matches (local_error, MU_ERROR, MU_ERROR_NOT_FOUND))
			return mu_config_new_defaults ();
		g_set_error_literal (error, MU_ERROR, MU_ERROR_CONFIG, local_error->message);
		return NULL;
	}
	return mu_config_new_from_bytes (bytes, path, error);
}
