/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "mu-error.h"
#include "mu-file.h"
#include "mu-grubenv.h"

struct _MuGrubEnv {
	GPtrArray *names;    /* gchar*, in the order of the block */
	GPtrArray *values;   /* gchar*, same index */
	GPtrArray *comments; /* gchar*, "# ..." lines without their newline */
};

MuGrubEnv *
mu_grubenv_new (void)
{
	MuGrubEnv *env = g_new0 (MuGrubEnv, 1);

	env->names = g_ptr_array_new_with_free_func (g_free);
	env->values = g_ptr_array_new_with_free_func (g_free);
	env->comments = g_ptr_array_new_with_free_func (g_free);
	return env;
}

void
mu_grubenv_free (MuGrubEnv *env)
{
	if (env == NULL)
		return;
	g_ptr_array_unref (env->names);
	g_ptr_array_unref (env->values);
	g_ptr_array_unref (env->comments);
	g_free (env);
}

static gboolean
valid_name (const gchar *s, gsize len)
{
	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isalnum (s[i]) && s[i] != '_')
			return FALSE;
	return TRUE;
}

static gboolean
valid_value (const gchar *s, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isprint (s[i]) || s[i] == '\\')
			return FALSE;
	return TRUE;
}

static gboolean
valid_comment (const gchar *s, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isprint (s[i]))
			return FALSE;
	return TRUE;
}

static gint
find (const MuGrubEnv *env, const gchar *name)
{
	for (guint i = 0; i < env->names->len; i++)
		if (g_str_equal (env->names->pdata[i], name))
			return (gint) i;
	return -1;
}

const gchar *
mu_grubenv_get (const MuGrubEnv *env, const gchar *name)
{
	gint i = find (env, name);

	return i < 0 ? NULL : env->values->pdata[i];
}

gboolean
mu_grubenv_set (MuGrubEnv *env, const gchar *name, const gchar *value, GError **error)
{
	gint i;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	if (!valid_name (name, strlen (name)) || !valid_value (value, strlen (value))) {
		g_set_error (error, MU_ERROR, MU_ERROR_INVALID_ARGUMENT,
			     "grubenv: '%s=%s' is not a variable mediaupd writes", name, value);
		return FALSE;
	}
	i = find (env, name);
	if (i >= 0) {
		g_free (env->values->pdata[i]);
		env->values->pdata[i] = g_strdup (value);
		return TRUE;
	}
	g_ptr_array_add (env->names, g_strdup (name));
	g_ptr_array_add (env->values, g_strdup (value));
	return TRUE;
}

static gboolean
corrupt (GError **error, const gchar *what, gsize offset)
{
	g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV,
		     "the GRUB environment block is damaged (%s at byte %" G_GSIZE_FORMAT
		     "); nothing was written. Recreate it with 'grub-editenv FILE create' and set "
		     "the boot variables again",
		     what, offset);
	return FALSE;
}

MuGrubEnv *
mu_grubenv_parse (GBytes *block, GError **error)
{
	g_autoptr (MuGrubEnv) env = mu_grubenv_new ();
	gsize len = 0;
	const gchar *data = g_bytes_get_data (block, &len);
	gsize pos = strlen (MU_GRUBENV_HEADER);

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	if (len != MU_GRUBENV_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV,
			     "the GRUB environment block is %" G_GSIZE_FORMAT " bytes, not %d; "
			     "nothing was written. Recreate it with 'grub-editenv FILE create'",
			     len, MU_GRUBENV_SIZE);
		return NULL;
	}
	if (memcmp (data, MU_GRUBENV_HEADER, pos) != 0) {
		(void) corrupt (error, "no '# GRUB Environment Block' header", 0);
		return NULL;
	}
	while (pos < len) {
		const gchar *line = data + pos;
		const gchar *nl = memchr (line, '\n', len - pos);
		const gchar *eq;

		/* '#' up to the end is the padding; a '#' line before it a comment (newer
		 * grub-editenv writes one under the header). */
		if (*line == '#' && nl == NULL)
			break;
		if (nl == NULL) {
			(void) corrupt (error, "a line without its end", pos);
			return NULL;
		}
		if (*line == '#') {
			if (!valid_comment (line, (gsize) (nl - line))) {
				(void) corrupt (error, "an unreadable comment", pos);
				return NULL;
			}
			g_ptr_array_add (env->comments, g_strndup (line, (gsize) (nl - line)));
			pos = (gsize) (nl - data) + 1;
			continue;
		}
		eq = memchr (line, '=', (gsize) (nl - line));
		if (eq == NULL || !valid_name (line, (gsize) (eq - line)) ||
		    !valid_value (eq + 1, (gsize) (nl - eq - 1))) {
			(void) corrupt (error, "a line that is not name=value", pos);
			return NULL;
		}
		{
			g_autofree gchar *name = g_strndup (line, (gsize) (eq - line));

			if (find (env, name) >= 0) {
				(void) corrupt (error, "a variable given twice", pos);
				return NULL;
			}
			g_ptr_array_add (env->names, g_steal_pointer (&name));
			g_ptr_array_add (env->values, g_strndup (eq + 1, (gsize) (nl - eq - 1)));
		}
		pos = (gsize) (nl - data) + 1;
	}
	for (; pos < len; pos++) {
		if (data[pos] != '#') {
			(void) corrupt (error, "something else than '#' in the padding", pos);
			return NULL;
		}
	}
	return g_steal_pointer (&env);
}

GBytes *
mu_grubenv_serialize (const MuGrubEnv *env, GError **error)
{
	g_autoptr (GString) s = g_string_new (MU_GRUBENV_HEADER);

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	for (guint i = 0; i < env->comments->len; i++)
		g_string_append_printf (s, "%s\n", (const gchar *) env->comments->pdata[i]);
	for (guint i = 0; i < env->names->len; i++)
		g_string_append_printf (s, "%s=%s\n", (const gchar *) env->names->pdata[i],
					(const gchar *) env->values->pdata[i]);
	if (s->len > MU_GRUBENV_SIZE) {
		g_set_error (error, MU_ERROR, MU_ERROR_NO_SPACE,
			     "the GRUB environment variables take %" G_GSIZE_FORMAT
			     " bytes, more than the %d of the block",
			     s->len, MU_GRUBENV_SIZE);
		return NULL;
	}
	while (s->len < MU_GRUBENV_SIZE)
		g_string_append_c (s, '#');
	return g_string_free_to_bytes (g_steal_pointer (&s));
}

MuGrubEnv *
mu_grubenv_load (const gchar *path, GError **error)
{
	g_autoptr (GBytes) block = NULL;
	g_autoptr (GError) local_error = NULL;
	MuGrubEnv *env;

	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	block = mu_file_read_regular (path, MU_GRUBENV_SIZE, MU_FILE_NONE,
				      MU_ERROR_CORRUPT_BOOT_ENV, &local_error);
	if (block == NULL) {
		g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
					    "grubenv %s: ", path);
		return NULL;
	}
	env = mu_grubenv_parse (block, &local_error);
	if (env == NULL)
		g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
					    "grubenv %s: ", path);
	return env;
}

gboolean
mu_grubenv_save (const MuGrubEnv *env, const gchar *path, GError **error)
{
	g_autoptr (GBytes) block = NULL;
	g_autoptr (GError) local_error = NULL;

	g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

	block = mu_grubenv_serialize (env, error);
	if (block == NULL)
		return FALSE;
	if (!g_file_set_contents_full (path, g_bytes_get_data (block, NULL), MU_GRUBENV_SIZE,
				       G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				       0644, &local_error)) {
		g_set_error (error, MU_ERROR, MU_ERROR_IO, "grubenv %s: cannot replace it: %s",
			     path, local_error->message);
		return FALSE;
	}
	return TRUE;
}
