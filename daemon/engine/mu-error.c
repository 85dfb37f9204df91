/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "mu-error.h"

G_DEFINE_QUARK (mediaupd-error-quark, mu_error)

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
