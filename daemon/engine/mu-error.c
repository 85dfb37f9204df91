/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>

#include <gio/gio.h>

#include "mu-error.h"

G_DEFINE_QUARK (mediaupd - error - quark, mu_error)

static const gchar *const error_names[MU_ERROR_LAST] = {
	[MU_ERROR_FAILED] = "Failed",
	[MU_ERROR_INVALID_ARGUMENT] = "InvalidArgument",
	[MU_ERROR_NOT_FOUND] = "NotFound",
	[MU_ERROR_IO] = "Io",
	[MU_ERROR_INVALID_KEY] = "InvalidKey",
	[MU_ERROR_KEY_PERMISSIONS] = "KeyPermissions",
	[MU_ERROR_NOT_A_BUNDLE] = "NotABundle",
	[MU_ERROR_UNSUPPORTED_FORMAT] = "UnsupportedFormat",
	[MU_ERROR_CORRUPT_BUNDLE] = "CorruptBundle",
	[MU_ERROR_NO_KEY] = "NoKey",
	[MU_ERROR_UNSIGNED] = "Unsigned",
	[MU_ERROR_SIGNATURE_INVALID] = "SignatureInvalid",
	[MU_ERROR_KEY_REVOKED] = "KeyRevoked",
	[MU_ERROR_NO_TRUSTED_KEYS] = "NoTrustedKeys",
	[MU_ERROR_WRONG_OS] = "WrongOs",
	[MU_ERROR_DOWNGRADE] = "Downgrade",
	[MU_ERROR_MISSING_FROM_COMMIT] = "MissingFromCommit",
	[MU_ERROR_NO_SPACE] = "NoSpace",
	[MU_ERROR_CORRUPT_DELTA] = "CorruptDelta",
	[MU_ERROR_MEDIA_REMOVED] = "MediaRemoved",
	[MU_ERROR_BUSY] = "Busy",
	[MU_ERROR_CANCELLED] = "Cancelled",
	[MU_ERROR_CONFIG] = "Config",
	[MU_ERROR_ALREADY_INSTALLED] = "AlreadyInstalled",
	[MU_ERROR_NOT_RUNNING] = "NotRunning",
	[MU_ERROR_WORKER_FAILED] = "WorkerFailed",
	[MU_ERROR_SUPERSEDED] = "Superseded",
	[MU_ERROR_BLACKLISTED] = "Blacklisted",
	[MU_ERROR_CORRUPT_BOOT_ENV] = "CorruptBootEnv",
};

const gchar *
mu_error_code_to_name (MuErrorCode code)
{
	if ((guint) code >= MU_ERROR_LAST || error_names[code] == NULL)
		return error_names[MU_ERROR_FAILED];
	return error_names[code];
}

void
mu_error_register_dbus (void)
{
	static gsize registered = 0;

	if (!g_once_init_enter (&registered))
		return;
	for (guint i = 0; i < MU_ERROR_LAST; i++) {
		g_autofree gchar *name = g_strconcat (MU_ERROR_DBUS_PREFIX,
						      mu_error_code_to_name (i), NULL);

		(void) g_dbus_error_register_error (MU_ERROR, (gint) i, name);
	}
	g_once_init_leave (&registered, 1);
}

/* GIO's errors that have a code of their own here; every other one stays as it is. */
static const struct {
	GIOErrorEnum gio;
	MuErrorCode code;
} gio_codes[] = {
	{ G_IO_ERROR_NOT_FOUND, MU_ERROR_NOT_FOUND },
	{ G_IO_ERROR_NO_SPACE, MU_ERROR_NO_SPACE },
	{ G_IO_ERROR_CANCELLED, MU_ERROR_CANCELLED },
};

static gboolean
code_from_gio (GIOErrorEnum gio, MuErrorCode *ret_code)
{
	for (gsize i = 0; i < G_N_ELEMENTS (gio_codes); i++) {
		if (gio_codes[i].gio == gio) {
			*ret_code = gio_codes[i].code;
			return TRUE;
		}
	}
	return FALSE;
}

MuErrorCode
mu_error_code_from_errno (int err)
{
	MuErrorCode code;

	/* A quota that is used up leaves no space just as a full disk does (GIO tells the two
	 * apart); everything else through GIO's own errno table, then the one above. */
	if (err == EDQUOT)
		return MU_ERROR_NO_SPACE;
	if (code_from_gio (g_io_error_from_errno (err), &code))
		return code;
	return MU_ERROR_IO;
}

gboolean
mu_error_code_from_gerror (const GError *error, MuErrorCode *ret_code)
{
	MuErrorCode code;

	g_return_val_if_fail (error != NULL, FALSE);

	if (error->domain == MU_ERROR) {
		*ret_code = (MuErrorCode) error->code;
		return TRUE;
	}
	if (error->domain == G_IO_ERROR)
		return code_from_gio ((GIOErrorEnum) error->code, ret_code);
	if (error->domain != G_FILE_ERROR)
		return FALSE;
	switch ((GFileError) error->code) {
	case G_FILE_ERROR_NOENT:
		code = MU_ERROR_NOT_FOUND;
		break;
	case G_FILE_ERROR_NOSPC:
		code = MU_ERROR_NO_SPACE;
		break;
	default:
		return FALSE;
	}
	*ret_code = code;
	return TRUE;
}

void
mu_error_set_errno (GError **error, int err, const gchar *format, ...)
{
	g_autofree gchar *what = NULL;
	va_list args;

	va_start (args, format);
	what = g_strdup_vprintf (format, args);
	va_end (args);
	g_set_error (error, MU_ERROR, mu_error_code_from_errno (err), "%s: %s", what,
		     g_strerror (err));
}
