/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

/* keys-example/trusted.ed25519: the public half of keys-example/example-signing.secret. */
#define EXAMPLE_TRUSTED_KEY "3pArcxlGcBnvFnZvZl8JSRlJnobk7KiwPD7AzOxB2hQ=\n"

static MuKeyring *keyring;

/* Messages below warning are dropped: a parser refusing input is what is expected.
 * A warning or worse means the engine or a library found itself misused. */
static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0) {
		g_log_writer_standard_streams (level, fields, n_fields, user_data);
		abort ();
	}
	return G_LOG_WRITER_HANDLED;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
	g_autoptr (GBytes) trusted = g_bytes_new_static (EXAMPLE_TRUSTED_KEY,
							 strlen (EXAMPLE_TRUSTED_KEY));
	g_autoptr (GError) error = NULL;

	g_log_set_writer_func (writer, NULL, NULL);
	keyring = mu_keyring_new ();
	if (!mu_keyring_add_trusted_bytes (keyring, trusted, "trusted.ed25519", &error))
		g_error ("the example key does not load: %s", error->message);
	return 0;
}

MuKeyring *
mu_fuzz_get_keyring (void)
{
	return keyring;
}

gchar *
mu_fuzz_strndup (const uint8_t *data, size_t size)
{
	return g_strndup ((const gchar *) data, size);
}

GBytes *
mu_fuzz_split_line (const uint8_t *data, size_t size, gchar **ret_line)
{
	const uint8_t *nl = memchr (data, '\n', size);

	if (nl == NULL) {
		*ret_line = g_strdup ("");
		return g_bytes_new (data, size);
	}
	*ret_line = mu_fuzz_strndup (data, (size_t) (nl - data));
	return g_bytes_new (nl + 1, size - (size_t) (nl - data) - 1);
}
