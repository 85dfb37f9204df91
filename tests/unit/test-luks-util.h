/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "mu-key.h"

/*
 * LUKS2 files for the bundle tests, built once per test program with the
 * cryptsetup command line (tests/unit/make-luks-fixture.sh): unprivileged, no
 * device-mapper, pbkdf2 with 1000 iterations. Keys: "main-2026",
 * "fallback-1", "old.v2" in keyslots 0, 1, 2; "spare-a", "spare-b" in no
 * slot; "wrong_main" is a key named "main-2026" that opens nothing.
 */
typedef struct {
	gchar *tmpdir;
	MuKey *keys[3];
	gchar *key_paths[3]; /* DIR/keys/ID.key */
	MuKey *spare_a;
	MuKey *spare_b;
	gchar *spare_a_path;
	gchar *spare_b_path;
	MuKey *wrong_main;
	gchar *wrong_main_path; /* DIR/wrong/main-2026.key */
	gchar *short_key_path;  /* 31 bytes */

	gchar *three;           /* 3 keys, with key-id tokens */
	gchar *no_tokens;       /* 3 keys, no tokens */
	gchar *unbound;         /* 3 keys and "spare-b" in an unbound slot 3, with tokens */
	gchar *bad_tokens;      /* 3 keys; tokens with a bad key id, two slots, another type */
	gchar *foreign;         /* label "someone-else" */
	gchar *no_label;        /* no label, no subsystem */
	gchar *other_subsystem; /* our label, subsystem "apertis-v2" */
	gchar *future;          /* our label, subsystem "mediaupd-v9": a format to come */
	gchar *luks1;
	gchar *random; /* 64 KiB of random bytes */
	gchar *empty;  /* 0 bytes */
	gchar *directory;
	gchar *cut_in_header;   /* first 300000 bytes of three */
	gchar *cut_at_data;     /* three up to its data offset */
	gchar *cut_mid_sector;  /* three less 100 bytes */
	gchar *damaged_both;    /* both JSON header copies damaged */
	gchar *damaged_primary; /* the first JSON header copy damaged */
	gchar *unfinished;      /* a reencryption started, not finished */
	/* As three, subsystem "mediaupd-v2" and no signed header: past the format gate of
	 * discover under the default configuration, refused as Unsigned in verify. */
	gchar *unsigned_v2;
} MuLuksFixtures;

/*
 * File helpers of the test programs. mu_test_write_random_key writes @len random
 * bytes to DIR/ID.key (mode 0600, @dir made if missing), loads them into
 * *@out_key unless it is NULL and returns the path. mu_test_remove_tree removes
 * @path and everything below it, following no symbolic link.
 */
gchar *mu_test_write_random_key (const gchar *dir, const gchar *id, gsize len, MuKey **out_key);
void mu_test_remove_tree (const gchar *path);

MuLuksFixtures *mu_luks_fixtures_new (void);
void mu_luks_fixtures_free (MuLuksFixtures *fx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuLuksFixtures, mu_luks_fixtures_free)
