/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "uboot" backend: U-Boot's own boot counter (CONFIG_BOOTCOUNT_LIMIT with the count in
 * the environment), through libubootenv and the device's fw_env.config ([Boot]
 * UBootEnvConfig=). Arming sets upgrade_available=1 and bootcount=0 (and bootlimit when the
 * board's environment has none); U-Boot counts each boot and runs altbootcmd once
 * bootcount > bootlimit. Disarming sets upgrade_available=0 and bootcount=0. An environment
 * whose CRC does not match is refused and never written.
 */
#include "config.h"

#include <stddef.h>

#include <libuboot.h>

#include "mu-boot-state.h"
#include "mu-error.h"

typedef struct {
	struct uboot_ctx *ctx;
	gboolean opened; /* libuboot_open() was called: close, also after it failed */
} UBootEnv;

static void
uboot_env_free (UBootEnv *env)
{
	if (env->opened)
		libuboot_close (env->ctx);
	libuboot_exit (env->ctx);
	g_free (env);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (UBootEnv, uboot_env_free)

static UBootEnv *
uboot_env_open (const MuConfig *config, GError **error)
{
	g_autoptr (UBootEnv) env = g_new0 (UBootEnv, 1);
	int r;

	if (libuboot_initialize (&env->ctx, NULL) < 0 || env->ctx == NULL) {
		g_set_error_literal (error, MU_ERROR, MU_ERROR_FAILED,
				     "libubootenv could not be initialised");
		return NULL;
	}
	r = libuboot_read_config (env->ctx, config->uboot_env_config);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CONFIG,
			     "cannot use %s ([Boot] UBootEnvConfig=): %s; it must name the "
			     "device or file that holds the U-Boot environment",
			     config->uboot_env_config, g_strerror (-r));
		return NULL;
	}
	/* A failed open keeps the environment's lock (libubootenv 0.3.2) until closed. */
	env->opened = TRUE;
	r = libuboot_open (env->ctx);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV,
			     "the U-Boot environment named in %s cannot be read or is damaged "
			     "(%s); nothing was written. Restore it (fw_setenv, or the board's "
			     "default environment) before the next update",
			     config->uboot_env_config, g_strerror (-r));
		return NULL;
	}
	return g_steal_pointer (&env);
}

static gboolean
set_vars (UBootEnv *env, const MuConfig *config, const gchar *const *vars, GError **error)
{
	int r;

	for (guint i = 0; vars[i] != NULL; i += 2) {
		r = libuboot_set_env (env->ctx, vars[i], vars[i + 1]);
		if (r < 0) {
			g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot set %s=%s: %s", vars[i],
				     vars[i + 1], g_strerror (-r));
			return FALSE;
		}
	}
	r = libuboot_env_store (env->ctx);
	if (r < 0) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO,
			     "cannot write the U-Boot environment named in %s: %s",
			     config->uboot_env_config, g_strerror (-r));
		return FALSE;
	}
	return TRUE;
}

static gboolean
uboot_arm (const MuConfig *config, GError **error)
{
	g_autoptr (UBootEnv) env = uboot_env_open (config, error);
	g_autofree gchar *board_limit = NULL;
	g_autofree gchar *limit = g_strdup_printf ("%u", config->boot_limit);
	const gchar *vars[] = { "bootcount", "0", "upgrade_available", "1", NULL, NULL, NULL };

	if (env == NULL)
		return FALSE;
	board_limit = libuboot_get_env (env->ctx, "bootlimit");
	if (board_limit == NULL) {
		vars[4] = "bootlimit";
		vars[5] = limit;
	}
	return set_vars (env, config, vars, error);
}

static gboolean
uboot_disarm (const MuConfig *config, GError **error)
{
	g_autoptr (UBootEnv) env = uboot_env_open (config, error);
	const gchar *vars[] = { "upgrade_available", "0", "bootcount", "0", NULL };

	return env != NULL && set_vars (env, config, vars, error);
}

static guint
get_uint (UBootEnv *env, const gchar *name, guint fallback)
{
	g_autofree gchar *value = libuboot_get_env (env->ctx, name);
	guint64 n = 0;

	if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT, &n, NULL))
		return fallback;
	return (guint) n;
}

static gboolean
uboot_read (const MuConfig *config, MuBootCounter *out_counter, GError **error)
{
	g_autoptr (UBootEnv) env = uboot_env_open (config, error);

	if (env == NULL)
		return FALSE;
	*out_counter = (MuBootCounter){
		.armed = get_uint (env, "upgrade_available", 0) == 1,
		.count = get_uint (env, "bootcount", 0),
		.limit = get_uint (env, "bootlimit", config->boot_limit),
	};
	return TRUE;
}

const MuBootBackend mu_boot_backend_uboot = {
	.name = "uboot",
	.counts = TRUE,
	.arm = uboot_arm,
	.disarm = uboot_disarm,
	.read = uboot_read,
};
