/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "mu-secret.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

MuSecret *
mu_secret_new (gsize len)
{
	MuSecret *secret;
	gsize page = (gsize) sysconf (_SC_PAGESIZE);
	void *map;

	g_return_val_if_fail (len > 0 && len <= MU_SECRET_MAX_LEN, NULL);

	secret = g_new0 (MuSecret, 1);
	secret->len = len;
	secret->map_len = (len + page - 1) / page * page;
	map = mmap (NULL, secret->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (map == MAP_FAILED)
		g_error ("cannot map %" G_GSIZE_FORMAT " bytes for key material: %s",
			 secret->map_len, g_strerror (errno));
	/* A process without CAP_IPC_LOCK may be over its RLIMIT_MEMLOCK: the key
	 * is then still kept out of core dumps and wiped, only swappable. */
	if (mlock (map, secret->map_len) < 0)
		g_debug ("cannot lock key material in memory: %s", g_strerror (errno));
	if (madvise (map, secret->map_len, MADV_DONTDUMP) < 0)
		g_debug ("cannot exclude key material from core dumps: %s", g_strerror (errno));
	secret->data = map;
	return secret;
}

MuSecret *
mu_secret_new_copy (const guint8 *data, gsize len)
{
	MuSecret *secret = mu_secret_new (len);

	memcpy (secret->data, data, len);
	return secret;
}

void
mu_secret_free (MuSecret *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero (secret->data, secret->map_len);
	(void) munlock (secret->data, secret->map_len);
	(void) munmap (secret->data, secret->map_len);
	g_free (secret);
}
