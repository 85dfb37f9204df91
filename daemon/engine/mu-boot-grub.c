/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "grub" backend: a boot counter in GRUB's environment block ([Boot] GrubEnv=), which
 * grub.cfg reads and counts down at each boot (docs/boot-counting.md has the snippet):
 *
 *   boot_success=0 boot_counter=N   a trial: N boots of the new deployment left; at 0,
 *                                   grub.cfg boots the previous deployment instead
 *   boot_success=1                  no trial: the default deployment boots
 *   mediaupd_boot_limit=N           the N the trial started with ([Boot] BootLimit=)
 *
 * The block is read strictly and replaced atomically (mu-grubenv.h): a damaged one is
 * refused and left as it is; other variables in it are kept.
 */
#include "config.h"

#include "mu-boot-state.h"
#include "mu-error.h"
#include "mu-grubenv.h"

static gboolean
set_and_save (MuGrubEnv *env, const MuConfig *config, const gchar *const *vars, GError **error)
{
	for (guint i = 0; vars[i] != NULL; i += 2)
		if (!mu_grubenv_set (env, vars[i], vars[i + 1], error))
			return FALSE;
	return mu_grubenv_save (env, config->grubenv, error);
}

static gboolean
grub_arm (const MuConfig *config, GError **error)
{
	g_autoptr (MuGrubEnv) env = mu_grubenv_load (config->grubenv, error);
	g_autofree gchar *limit = g_strdup_printf ("%u", config->boot_limit);
	const gchar *vars[] = { "boot_success", "0", "boot_counter", limit, "mediaupd_boot_limit",
				limit,          NULL };

	return env != NULL && set_and_save (env, config, vars, error);
}

static gboolean
grub_disarm (const MuConfig *config, GError **error)
{
	g_autoptr (MuGrubEnv) env = mu_grubenv_load (config->grubenv, error);
	const gchar *vars[] = { "boot_success", "1", NULL };

	return env != NULL && set_and_save (env, config, vars, error);
}

static gboolean
get_uint (const MuGrubEnv *env, const gchar *name, guint *value)
{
	const gchar *str = mu_grubenv_get (env, name);
	guint64 n = 0;

	if (str == NULL || !g_ascii_string_to_unsigned (str, 10, 0, G_MAXUINT - 1, &n, NULL))
		return FALSE;
	*value = (guint) n;
	return TRUE;
}

static gboolean
grub_read (const MuConfig *config, MuBootCounter *out_counter, GError **error)
{
	g_autoptr (MuGrubEnv) env = mu_grubenv_load (config->grubenv, error);
	guint limit = config->boot_limit;
	guint left = 0;

	if (env == NULL)
		return FALSE;
	(void) get_uint (env, "mediaupd_boot_limit", &limit);
	*out_counter = (MuBootCounter){ .limit = limit };
	if (g_strcmp0 (mu_grubenv_get (env, "boot_success"), "0") != 0)
		return TRUE;
	out_counter->armed = TRUE;
	if (!get_uint (env, "boot_counter", &left) || left > limit) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV,
			     "grubenv %s: a trial is under way (boot_success=0) but boot_counter "
			     "is '%s', not a number from 0 to %u",
			     config->grubenv,
			     mu_grubenv_get (env, "boot_counter") != NULL
				     ? mu_grubenv_get (env, "boot_counter")
				     : "(unset)",
			     limit);
		return FALSE;
	}
	/* grub.cfg counts down and falls back at 0: that boot is one beyond the limit. */
	out_counter->count = left == 0 ? limit + 1 : limit - left;
	return TRUE;
}

const MuBootBackend mu_boot_backend_grub = {
	.name = "grub",
	.counts = TRUE,
	.arm = grub_arm,
	.disarm = grub_disarm,
	.read = grub_read,
};
