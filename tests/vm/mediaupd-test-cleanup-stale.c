/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test-only (never installed): runs the engine's startup cleanup once, so that
 * the vm suite can check what it removes after a killed install.
 */
#include "config.h"

#include "mu-unlock.h"

int
main (void)
{
	mu_unlock_cleanup_stale ();
	return 0;
}
