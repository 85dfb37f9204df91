/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "mu-daemon-state.h"
#include "mu-error.h"

#define STATE_FILE "state"
#define LOCK_FILE "state.lock"
/* Far more than the state needs: a larger file is not ours. */
#define STATE_MAX_SIZE (64 * 1024)

MuDaemonState *
mu_daemon_state_new (void)
{
	MuDaemonState *s = g_new0 (MuDaemonState, 1);

	s->error_name = g_strdup ("");
	s->message = g_strdup ("");
	s->bundle = g_strdup ("");
	return s;
}

void
mu_daemon_state_free (MuDaemonState *s)
{
	if (s == NULL)
		return;
	g_free (s->error_name);
	g_free (s->message);
	g_free (s->bundle);
	g_free (s->pending_commit);
	g_free (s->pending_version);
	g_free (s->previous_pending_commit);
	g_free (s->previous_pending_version);
	g_free (s->last_good_commit);
	g_free (s->rolled_back_commit);
	g_free (s->rolled_back_version);
	g_free (s);
}

static void
take_string (GKeyFile *kf, const gchar *group, const gchar *key, gchar **value)
{
	g_autofree gchar *str = g_key_file_get_string (kf, group, key, NULL);

	if (str == NULL || !g_utf8_validate (str, -1, NULL))
		return;
	g_free (*value);
	*value = g_steal_pointer (&str);
}

MuDaemonState *
mu_daemon_state_load (const gchar *state_dir)
{
	g_autoptr (MuDaemonState) s = mu_daemon_state_new ();
	g_autofree gchar *path = g_build_filename (state_dir, STATE_FILE, NULL);
	g_autofree gchar *data = NULL;
	g_autoptr (GKeyFile) kf = g_key_file_new ();
	g_autoptr (GError) error = NULL;
	gsize len = 0;

	if (!g_file_get_contents (path, &data, &len, &error)) {
		if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning ("cannot read the saved state %s: %s", path, error->message);
		return g_steal_pointer (&s);
	}
	if (len > STATE_MAX_SIZE || !g_key_file_load_from_data (kf, data, len, 0, &error)) {
		g_warning ("ignoring the damaged saved state %s: %s", path,
			   error != NULL ? error->message : "too large");
		return g_steal_pointer (&s);
	}
	take_string (kf, "LastResult", "Error", &s->error_name);
	take_string (kf, "LastResult", "Message", &s->message);
	take_string (kf, "LastResult", "Bundle", &s->bundle);
	s->time_us = g_key_file_get_int64 (kf, "LastResult", "Time", NULL);
	take_string (kf, "Pending", "Commit", &s->pending_commit);
	take_string (kf, "Pending", "Version", &s->pending_version);
	take_string (kf, "Pending", "PreviousCommit", &s->previous_pending_commit);
	take_string (kf, "Pending", "PreviousVersion", &s->previous_pending_version);
	take_string (kf, "Boot", "LastGood", &s->last_good_commit);
	take_string (kf, "Boot", "RolledBackFrom", &s->rolled_back_commit);
	take_string (kf, "Boot", "RolledBackVersion", &s->rolled_back_version);
	/* Only our own names: a value from elsewhere would otherwise reach D-Bus clients. */
	if (*s->error_name != '\0' && (!g_str_has_prefix (s->error_name, MU_ERROR_DBUS_PREFIX) ||
				       !g_dbus_is_interface_name (s->error_name))) {
		g_warning ("ignoring the saved last error '%s': not an error name of mediaupd",
			   s->error_name);
		g_free (s->error_name);
		s->error_name = g_strdup ("");
	}
	return g_steal_pointer (&s);
}

static void
set_optional (GKeyFile *kf, const gchar *group, const gchar *key, const gchar *value)
{
	if (value != NULL && *value != '\0')
		g_key_file_set_string (kf, group, key, value);
}

gboolean
mu_daemon_state_save (const MuDaemonState *s, const gchar *state_dir, GError **error)
{
	g_autoptr (GKeyFile) kf = g_key_file_new ();
	g_autofree gchar *path = g_build_filename (state_dir, STATE_FILE, NULL);
	g_autofree gchar *data = NULL;
	g_autoptr (GError) local_error = NULL;
	gsize len = 0;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	g_key_file_set_string (kf, "LastResult", "Error", s->error_name);
	g_key_file_set_string (kf, "LastResult", "Message", s->message);
	g_key_file_set_string (kf, "LastResult", "Bundle", s->bundle);
	g_key_file_set_int64 (kf, "LastResult", "Time", s->time_us);
	set_optional (kf, "Pending", "Commit", s->pending_commit);
	set_optional (kf, "Pending", "Version", s->pending_version);
	set_optional (kf, "Pending", "PreviousCommit", s->previous_pending_commit);
	set_optional (kf, "Pending", "PreviousVersion", s->previous_pending_version);
	set_optional (kf, "Boot", "LastGood", s->last_good_commit);
	set_optional (kf, "Boot", "RolledBackFrom", s->rolled_back_commit);
	set_optional (kf, "Boot", "RolledBackVersion", s->rolled_back_version);
	data = g_key_file_to_data (kf, &len, NULL);
	if (g_mkdir_with_parents (state_dir, 0755) < 0) {
		int saved = errno;

		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot make %s: %s", state_dir,
			     g_strerror (saved));
		return FALSE;
	}
	if (!g_file_set_contents_full (path, data, (gssize) len,
				       G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				       0644, &local_error)) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "cannot save the state: %s",
			     local_error->message);
		return FALSE;
	}
	return TRUE;
}

MuLock *
mu_daemon_state_lock (const gchar *state_dir, GError **error)
{
	return mu_lock_wait (state_dir, LOCK_FILE, 0755, error);
}
