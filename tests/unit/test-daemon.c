/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real daemon (build/daemon/mediaupd/mediaupd) on a private bus: GTestDBus, with
 * DBUS_SYSTEM_BUS_ADDRESS pointed at it, a configuration whose state and runtime
 * directories are temporary, and [Media] Source=none (there is no udisks2 on this bus).
 * Clients are plain GDBus connections and the generated proxy.
 */
#include "config.h"

#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mu-dbus-manager.h"
#include "mu-error.h"
#include "test-daemon-util.h"
#include "test-luks-util.h"

#define NAME "org.mediaupd.Manager1"
#define PATH "/org/mediaupd/Manager1"
#define IFACE "org.mediaupd.Manager1"
#define TIMEOUT_US (30 * G_USEC_PER_SEC)

static MuLuksFixtures *luks;
static GTestDBus *test_bus;

typedef struct {
	gchar *tmpdir;
	gchar *config_path;
	gchar *state_dir;
	GSubprocess *daemon;
	GDBusConnection *conn;
	MuDBusManager1 *proxy;
	GPtrArray *completed; /* GVariant (bss) of each Completed signal */
	guint completed_sub;
} Fixture;

static void
on_completed (GDBusConnection *conn, const gchar *sender, const gchar *path, const gchar *iface,
	      const gchar *signal, GVariant *params, gpointer user_data)
{
	Fixture *f = user_data;

	g_ptr_array_add (f->completed, g_variant_ref (params));
}

static GDBusConnection *
new_connection (void)
{
	return mu_test_bus_connect (g_test_dbus_get_bus_address (test_bus));
}

static gboolean
name_has_owner (GDBusConnection *conn)
{
	return mu_test_name_has_owner (conn, NAME);
}

/* Runs the main context until @cond holds, failing the test after TIMEOUT_US. */
#define WAIT_FOR(cond) MU_TEST_WAIT_FOR (cond, TIMEOUT_US)

static void
write_config (Fixture *f, const gchar *extra)
{
	g_autofree gchar *keys = g_build_filename (luks->tmpdir, "keys", NULL);

	mu_test_write_config (f->config_path, "[Media]\nSource=none\n", f->tmpdir, keys, extra);
}

static void
start_daemon (Fixture *f, const gchar *pause_at)
{
	g_autoptr (GError) error = NULL;

	f->daemon = mu_test_daemon_start (g_test_dbus_get_bus_address (test_bus), f->config_path,
					  pause_at, f->conn, TIMEOUT_US);
	f->proxy = mu_dbus_manager1_proxy_new_sync (f->conn, G_DBUS_PROXY_FLAGS_NONE, NAME, PATH,
						    NULL, &error);
	g_assert_no_error (error);
}

/* SIGTERM, and the daemon's exit status (it must exit, not be killed). */
static gint
stop_daemon (Fixture *f)
{
	g_clear_object (&f->proxy);
	return mu_test_daemon_stop (&f->daemon, f->conn, TIMEOUT_US);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
	f->tmpdir = mu_test_case_dir_new ("mu-test-daemon-XXXXXX", &f->config_path);
	f->state_dir = g_build_filename (f->tmpdir, "state", NULL);
	write_config (f, data);
	f->conn = new_connection ();
	f->completed = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
	f->completed_sub = g_dbus_connection_signal_subscribe (f->conn, NAME, IFACE, "Completed",
							       PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
							       on_completed, f, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
	if (f->daemon != NULL)
		g_assert_cmpint (stop_daemon (f), ==, 0);
	g_dbus_connection_signal_unsubscribe (f->conn, f->completed_sub);
	g_clear_pointer (&f->completed, g_ptr_array_unref);
	g_dbus_connection_close_sync (f->conn, NULL, NULL);
	g_clear_object (&f->conn);
	mu_test_case_dir_free (f->tmpdir, f->config_path);
	g_free (f->state_dir);
}

/* ---- calls with a descriptor ---- */

typedef struct {
	gboolean done;
	GVariant *reply;
	GError *error;
} Reply;

static void
on_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
	Reply *r = user_data;

	r->reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source),
								    NULL, res, &r->error);
	r->done = TRUE;
}

static void
call_with_file (Fixture *f, const gchar *method, const gchar *path, GVariant *options, Reply *r)
{
	g_autoptr (GUnixFDList) list = g_unix_fd_list_new ();
	g_autoptr (GError) error = NULL;
	int fd = open (path, O_RDONLY | O_CLOEXEC);
	gint handle;

	g_assert_cmpint (fd, >=, 0);
	handle = g_unix_fd_list_append (list, fd, &error);
	g_assert_no_error (error);
	close (fd);
	g_dbus_connection_call_with_unix_fd_list (f->conn, NAME, PATH, IFACE, method,
						  options != NULL ? g_variant_new ("(h@a{sv})",
										   handle, options)
								  : g_variant_new ("(h)", handle),
						  NULL, G_DBUS_CALL_FLAGS_NONE, 120 * 1000, list,
						  NULL, on_reply, r);
}

static void
reply_clear (Reply *r)
{
	g_clear_pointer (&r->reply, g_variant_unref);
	g_clear_error (&r->error);
	r->done = FALSE;
}

static GVariant *
no_options (void)
{
	return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
}

/* The remote error's full D-Bus name. */
static gchar *
remote_name (const GError *error)
{
	g_assert_nonnull (error);
	return g_dbus_error_get_remote_error (error);
}

/* Nothing of an install is left on the host: no mapping, no mount, no loop device of ours. */
static void
assert_nothing_left (void)
{
	mu_test_assert_nothing_left (luks->tmpdir);
}

static gchar *
read_state_file (Fixture *f)
{
	g_autofree gchar *path = g_build_filename (f->state_dir, "state", NULL);
	gchar *data = NULL;

	if (!g_file_get_contents (path, &data, NULL, NULL))
		return NULL;
	return data;
}

/* ---- worker processes ---- */

/* The daemon's child, once it has stopped itself (the test hook), else 0. */
static GPid
stopped_worker (Fixture *f)
{
	return mu_test_stopped_child (g_subprocess_get_identifier (f->daemon), NULL);
}

/* Alive: not gone, not a zombie waiting to be reaped. */
static gboolean
process_exists (GPid pid)
{
	g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
	g_autofree gchar *stat = NULL;
	const gchar *state;

	if (!g_file_get_contents (path, &stat, NULL, NULL))
		return FALSE;
	state = strrchr (stat, ')');
	return state != NULL && state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

/* ---- tests ---- */

static void
test_properties (Fixture *f, gconstpointer data)
{
	g_autoptr (GVariant) progress = NULL;
	g_autoptr (GVariant) last = NULL;
	const gchar *phase = NULL;
	guint percent = 1;
	guint64 done = 1, total = 1;
	const gchar *err_name = NULL, *message = NULL;
	const gchar *const *queued;

	start_daemon (f, NULL);
	g_assert_cmpstr (mu_dbus_manager1_get_state (f->proxy), ==, "idle");
	progress = mu_dbus_manager1_dup_progress (f->proxy);
	g_variant_get (progress, "(&sutt)", &phase, &percent, &done, &total);
	g_assert_cmpstr (phase, ==, "");
	g_assert_cmpuint (percent, ==, 0);
	g_assert_cmpuint (done, ==, 0);
	g_assert_cmpuint (total, ==, 0);
	last = mu_dbus_manager1_dup_last_error (f->proxy);
	g_variant_get (last, "(&s&s)", &err_name, &message);
	g_assert_cmpstr (err_name, ==, "");
	g_assert_cmpstr (message, ==, "");
	/* The host is no OSTree system. */
	g_assert_cmpstr (mu_dbus_manager1_get_current_commit (f->proxy), ==, "");
	g_assert_cmpstr (mu_dbus_manager1_get_current_version (f->proxy), ==, "");
	g_assert_cmpstr (mu_dbus_manager1_get_pending_commit (f->proxy), ==, "");
	g_assert_cmpstr (mu_dbus_manager1_get_pending_version (f->proxy), ==, "");
	/* From the configuration of this case. */
	g_assert_cmpstr (mu_dbus_manager1_get_reboot_policy (f->proxy), ==, "never");
	g_assert_cmpstr (mu_dbus_manager1_get_agent (f->proxy), ==, "");
	queued = mu_dbus_manager1_get_queued_media (f->proxy);
	g_assert_true (queued == NULL || queued[0] == NULL);
	/* The lock is the daemon's while it runs. */
	{
		g_autofree gchar *lock = g_build_filename (f->tmpdir, "run", "lock", NULL);

		g_assert_true (g_file_test (lock, G_FILE_TEST_EXISTS));
	}
}

static void
test_inspect (Fixture *f, gconstpointer data)
{
	Reply r = { 0 };
	g_autoptr (GVariant) info = NULL;
	g_autofree const gchar **key_ids = NULL;
	g_autofree const gchar **device_ids = NULL;
	g_autoptr (GVariant) slots = NULL;
	const gchar *format = NULL, *label = NULL;
	guint64 size = 0;
	g_autofree gchar *name = NULL;

	start_daemon (f, NULL);
	call_with_file (f, "InspectBundle", luks->three, NULL, &r);
	WAIT_FOR (r.done);
	g_assert_no_error (r.error);
	g_variant_get (r.reply, "(@a{sv})", &info);
	g_assert_true (g_variant_lookup (info, "format", "&s", &format));
	g_assert_cmpstr (format, ==, "mediaupd-v1");
	g_assert_true (g_variant_lookup (info, "label", "&s", &label));
	g_assert_cmpstr (label, ==, "mediaupd-bundle");
	g_assert_true (g_variant_lookup (info, "size", "t", &size));
	{
		struct stat st;

		g_assert_cmpint (stat (luks->three, &st), ==, 0);
		g_assert_cmpuint (size, ==, (guint64) st.st_size);
	}
	slots = g_variant_lookup_value (info, "keyslots", G_VARIANT_TYPE ("ai"));
	g_assert_nonnull (slots);
	g_assert_cmpuint (g_variant_n_children (slots), ==, 3);
	g_assert_true (g_variant_lookup (info, "key_ids", "^a&s", &key_ids));
	g_assert_cmpuint (g_strv_length ((GStrv) key_ids), ==, 3);
	g_assert_true (g_strv_contains (key_ids, "main-2026"));
	g_assert_true (g_strv_contains (key_ids, "old.v2"));
	/* The device's key files are those of the fixture's keys directory. */
	g_assert_true (g_variant_lookup (info, "device_key_ids", "^a&s", &device_ids));
	g_assert_cmpuint (g_strv_length ((GStrv) device_ids), ==, 3);
	g_assert_true (g_strv_contains (device_ids, "fallback-1"));
	reply_clear (&r);

	/* Random bytes and a foreign LUKS2 file are no bundles. */
	call_with_file (f, "InspectBundle", luks->random, NULL, &r);
	WAIT_FOR (r.done);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.NotABundle");
	g_assert_true (g_error_matches (r.error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE));
	reply_clear (&r);
	g_clear_pointer (&name, g_free);
	call_with_file (f, "InspectBundle", luks->foreign, NULL, &r);
	WAIT_FOR (r.done);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.NotABundle");
	g_assert_nonnull (strstr (r.error->message, "someone-else"));
	reply_clear (&r);
	/* An inspection is not an install: no result recorded. */
	g_assert_cmpuint (f->completed->len, ==, 0);
	g_assert_cmpstr (mu_dbus_manager1_get_state (f->proxy), ==, "idle");
}

static void
assert_last_error (MuDBusManager1 *proxy, const gchar *expected_name)
{
	g_autoptr (GVariant) last = mu_dbus_manager1_dup_last_error (proxy);
	const gchar *name = NULL, *message = NULL;

	g_variant_get (last, "(&s&s)", &name, &message);
	g_assert_cmpstr (name, ==, expected_name);
	g_assert_cmpstr (message, !=, "");
}

static void
assert_last_error_empty (Fixture *f)
{
	g_autoptr (GVariant) last = mu_dbus_manager1_dup_last_error (f->proxy);
	g_autofree gchar *text = g_variant_print (last, FALSE);

	g_assert_cmpstr (text, ==, "('', '')");
}

static void
test_apply_not_a_bundle (Fixture *f, gconstpointer data)
{
	Reply r = { 0 };
	g_autofree gchar *name = NULL;
	g_autofree gchar *state = NULL;
	gboolean success = TRUE;
	const gchar *signal_name = NULL, *signal_message = NULL;

	start_daemon (f, NULL);
	g_assert_null (read_state_file (f));
	call_with_file (f, "ApplyBundle", luks->random, no_options (), &r);
	WAIT_FOR (r.done && f->completed->len == 1);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.NotABundle");
	g_assert_true (g_error_matches (r.error, MU_ERROR, MU_ERROR_NOT_A_BUNDLE));
	/* The message says what was wrong, from the phase it stopped in: discover reads the
	 * LUKS2 header from the file, before any loop device. */
	g_assert_nonnull (strstr (r.error->message, "discover: "));
	g_variant_get (f->completed->pdata[0], "(b&s&s)", &success, &signal_name, &signal_message);
	g_assert_false (success);
	g_assert_cmpstr (signal_name, ==, "org.mediaupd.Error.NotABundle");
	g_assert_nonnull (strstr (signal_message, "discover: "));
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_state (f->proxy), "idle") == 0);
	assert_last_error (f->proxy, "org.mediaupd.Error.NotABundle");
	assert_nothing_left ();
	reply_clear (&r);

	/* Saved, and read back by the next daemon. */
	state = read_state_file (f);
	g_assert_nonnull (state);
	g_assert_nonnull (strstr (state, "Error=org.mediaupd.Error.NotABundle"));
	g_assert_cmpint (stop_daemon (f), ==, 0);
	start_daemon (f, NULL);
	assert_last_error (f->proxy, "org.mediaupd.Error.NotABundle");
}

static void
test_apply_options (Fixture *f, gconstpointer data)
{
	Reply r = { 0 };
	g_autofree gchar *name = NULL;
	GVariantBuilder b;

	start_daemon (f, NULL);
	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", "force", g_variant_new_boolean (TRUE));
	call_with_file (f, "ApplyBundle", luks->three, g_variant_builder_end (&b), &r);
	WAIT_FOR (r.done);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.InvalidArgument");
	g_assert_nonnull (strstr (r.error->message, "'force'"));
	/* Refused before anything started: no result, no state. */
	g_assert_cmpuint (f->completed->len, ==, 0);
	assert_last_error_empty (f);
	g_assert_null (read_state_file (f));
	reply_clear (&r);
}

static void
test_cancel_idle (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *name = NULL;

	start_daemon (f, NULL);
	g_assert_false (mu_dbus_manager1_call_cancel_sync (f->proxy, NULL, &error));
	name = remote_name (error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.NotRunning");
	g_assert_cmpstr (mu_dbus_manager1_get_state (f->proxy), ==, "idle");
	g_assert_null (read_state_file (f));
}

static void
test_agent (Fixture *f, gconstpointer data)
{
	g_autoptr (GDBusConnection) other = new_connection ();
	g_autoptr (MuDBusManager1) other_proxy = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree gchar *name = NULL;

	start_daemon (f, NULL);
	other_proxy = mu_dbus_manager1_proxy_new_sync (other, G_DBUS_PROXY_FLAGS_NONE, NAME, PATH,
						       NULL, &error);
	g_assert_no_error (error);
	g_assert_true (mu_dbus_manager1_call_register_agent_sync (f->proxy, NULL, &error));
	g_assert_no_error (error);
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_agent (f->proxy),
			     g_dbus_connection_get_unique_name (f->conn)) == 0);
	/* Registering again is no change; a second agent is refused. */
	g_assert_true (mu_dbus_manager1_call_register_agent_sync (f->proxy, NULL, &error));
	g_assert_no_error (error);
	g_assert_false (mu_dbus_manager1_call_register_agent_sync (other_proxy, NULL, &error));
	name = remote_name (error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.Busy");
	g_clear_error (&error);
	g_clear_pointer (&name, g_free);
	/* Only the agent may unregister itself. */
	g_assert_false (mu_dbus_manager1_call_unregister_agent_sync (other_proxy, NULL, &error));
	g_assert_nonnull (error);
	g_clear_error (&error);
	g_assert_cmpstr (mu_dbus_manager1_get_agent (f->proxy), ==,
			 g_dbus_connection_get_unique_name (f->conn));
	g_assert_true (mu_dbus_manager1_call_unregister_agent_sync (f->proxy, NULL, &error));
	g_assert_no_error (error);
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_agent (f->proxy), "") == 0);

	/* The other one registers, then leaves the bus: it is dropped. */
	g_assert_true (mu_dbus_manager1_call_register_agent_sync (other_proxy, NULL, &error));
	g_assert_no_error (error);
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_agent (f->proxy),
			     g_dbus_connection_get_unique_name (other)) == 0);
	g_clear_object (&other_proxy);
	g_dbus_connection_close_sync (other, NULL, &error);
	g_assert_no_error (error);
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_agent (f->proxy), "") == 0);
	/* And the place is free again. */
	g_assert_true (mu_dbus_manager1_call_register_agent_sync (f->proxy, NULL, &error));
	g_assert_no_error (error);
}

/* Runs @argv (a script of the tests), failing the test if it fails. */
static void
run_script (const gchar *const *argv)
{
	g_autoptr (GError) error = NULL;
	gint status = 0;

	g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
		      &error);
	g_assert_no_error (error);
	g_spawn_check_wait_status (status, &error);
	g_assert_no_error (error);
}

/* The properties come from the configured sysroot; MarkBootSuccessful records its commit. */
static void
test_sysroot (Fixture *f, gconstpointer data)
{
	g_autofree gchar *script = g_build_filename (g_getenv ("MEDIAUPD_SOURCE_ROOT"), "tests",
						     "unit", "mk-ostree-sysroot.sh", NULL);
	g_autofree gchar *world = g_build_filename (f->tmpdir, "world", NULL);
	g_autofree gchar *commits_path = g_build_filename (world, "commits", NULL);
	g_autofree gchar *commits = NULL;
	g_autofree gchar *extra = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *v1 = NULL;
	g_autoptr (GError) error = NULL;
	const gchar *const make[] = { script, world, NULL };
	const gchar *const remove[] = { script, "--remove", world, NULL };
	const gchar *at;

	run_script (make);
	g_assert_true (g_file_get_contents (commits_path, &commits, NULL, NULL));
	at = strstr (commits, "v1=");
	g_assert_nonnull (at);
	v1 = g_strndup (at + 3, 64);
	extra = g_strdup_printf ("[Update]\nSysroot=%s/sysroot\n", world);
	write_config (f, extra);
	start_daemon (f, NULL);
	g_assert_cmpstr (mu_dbus_manager1_get_current_commit (f->proxy), ==, v1);
	g_assert_cmpstr (mu_dbus_manager1_get_current_version (f->proxy), ==, "1.0");
	/* A sysroot that is not booted has no pending deployment. */
	g_assert_cmpstr (mu_dbus_manager1_get_pending_commit (f->proxy), ==, "");
	g_assert_cmpstr (mu_dbus_manager1_get_state (f->proxy), ==, "idle");
	g_assert_true (mu_dbus_manager1_call_mark_boot_successful_sync (f->proxy, NULL, &error));
	g_assert_no_error (error);
	state = read_state_file (f);
	g_assert_nonnull (state);
	{
		g_autofree gchar *line = g_strdup_printf ("LastGood=%s\n", v1);

		g_assert_nonnull (strstr (state, line));
	}
	/* Marking is not an install. */
	assert_last_error_empty (f);
	g_assert_cmpint (stop_daemon (f), ==, 0);
	run_script (remove);
}

/* A GRUB environment block holding @vars ("name=value\n" lines). */
static gchar *
write_grubenv (Fixture *f, const gchar *vars)
{
	g_autofree gchar *path = g_build_filename (f->tmpdir, "grubenv", NULL);
	g_autoptr (GString) block = g_string_new ("# GRUB Environment Block\n");

	g_string_append (block, vars);
	while (block->len < 1024)
		g_string_append_c (block, '#');
	g_assert_true (g_file_set_contents (path, block->str, (gssize) block->len, NULL));
	return g_steal_pointer (&path);
}

/* Deploys @commit of the world at @world behind the default deployment, as the boot
 * loader's fallback leaves a failed update: deployed, not what runs. */
static void
deploy_behind (const gchar *world, const gchar *commit)
{
	g_autofree gchar *sysroot = g_build_filename (world, "sysroot", NULL);
	g_autofree gchar *repo = g_build_filename (sysroot, "ostree", "repo", NULL);
	g_autofree gchar *from = g_build_filename (world, "repo", NULL);
	g_autofree gchar *repo_arg = g_strdup_printf ("--repo=%s", repo);
	g_autofree gchar *sysroot_arg = g_strdup_printf ("--sysroot=%s", sysroot);
	const gchar *const pull[] = { "ostree", repo_arg, "pull-local", from, commit, NULL };
	const gchar *const deploy[] = { "ostree",    "admin",       "deploy",
					sysroot_arg, "--os=testos", "--not-as-default",
					"--retain",  commit,        NULL };
	gint status = 0;
	g_autoptr (GError) error = NULL;

	for (guint i = 0; i < 2; i++) {
		g_spawn_sync (NULL, (gchar **) (i == 0 ? pull : deploy), NULL,
			      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
			      NULL, &status, &error);
		g_assert_no_error (error);
		g_spawn_check_wait_status (status, &error);
		g_assert_no_error (error);
	}
}

/*
 * The daemon starts after the boot loader gave up on the last update: the deployment it
 * made (v2, pending in the state, still deployed) is not what runs (v1) and the GRUB
 * counter ran out. The
 * daemon blacklists v2, disarms the counter and shows it all; ClearBlacklist takes it off
 * the list again. Then a damaged grubenv: MarkBootSuccessful refuses it and writes nothing.
 */
static void
test_rollback_at_start (Fixture *f, gconstpointer data)
{
	g_autofree gchar *script = g_build_filename (g_getenv ("MEDIAUPD_SOURCE_ROOT"), "tests",
						     "unit", "mk-ostree-sysroot.sh", NULL);
	g_autofree gchar *world = g_build_filename (f->tmpdir, "world", NULL);
	g_autofree gchar *commits_path = g_build_filename (world, "commits", NULL);
	g_autofree gchar *blacklist_path = g_build_filename (f->state_dir, "blacklist", NULL);
	g_autofree gchar *state_path = g_build_filename (f->state_dir, "state", NULL);
	g_autofree gchar *commits = NULL;
	g_autofree gchar *extra = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *pending = NULL;
	g_autofree gchar *grubenv = NULL;
	g_autofree gchar *env_text = NULL;
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *v2 = NULL;
	g_autofree gchar *state_before = NULL;
	g_autofree gchar *env_before = NULL;
	g_autofree gchar *env_after = NULL;
	g_autoptr (GError) error = NULL;
	const gchar *const make[] = { script, world, NULL };
	const gchar *const remove[] = { script, "--remove", world, NULL };
	const gchar *const *blacklist;
	const gchar *commit = NULL;
	const gchar *version = NULL;
	gboolean armed = TRUE;
	guint count = 99, limit = 0;

	run_script (make);
	g_assert_true (g_file_get_contents (commits_path, &commits, NULL, NULL));
	v1 = g_strndup (strstr (commits, "v1=") + 3, 64);
	v2 = g_strndup (strstr (commits, "v2=") + 3, 64);
	deploy_behind (world, v2);
	grubenv = write_grubenv (f, "saved_entry=0\nboot_success=0\nboot_counter=0\n"
				    "mediaupd_boot_limit=2\n");
	extra = g_strdup_printf ("[Update]\nSysroot=%s/sysroot\n[Boot]\nBackend=grub\n"
				 "GrubEnv=%s\nBootLimit=2\n",
				 world, grubenv);
	write_config (f, extra);
	g_assert_cmpint (g_mkdir_with_parents (f->state_dir, 0700), ==, 0);
	pending = g_strdup_printf ("[Pending]\nCommit=%s\nVersion=1.1\n", v2);
	g_assert_true (g_file_set_contents (state_path, pending, -1, NULL));

	start_daemon (f, NULL);
	g_assert_cmpstr (mu_dbus_manager1_get_current_commit (f->proxy), ==, v1);
	g_assert_cmpstr (mu_dbus_manager1_get_boot_backend (f->proxy), ==, "grub");
	g_variant_get (mu_dbus_manager1_get_rolled_back_from (f->proxy), "(&s&s)", &commit,
		       &version);
	g_assert_cmpstr (commit, ==, v2);
	g_assert_cmpstr (version, ==, "1.1");
	blacklist = mu_dbus_manager1_get_blacklist (f->proxy);
	g_assert_nonnull (blacklist);
	g_assert_cmpstr (blacklist[0], ==, v2);
	g_assert_null (blacklist[1]);
	g_variant_get (mu_dbus_manager1_get_boot_counter (f->proxy), "(buu)", &armed, &count,
		       &limit);
	g_assert_false (armed);
	g_assert_cmpuint (limit, ==, 2);
	/* What the boot loader reads: no trial any more; its other variables kept. */
	g_assert_true (g_file_get_contents (grubenv, &env_text, NULL, NULL));
	g_assert_nonnull (strstr (env_text, "\nboot_success=1\n"));
	g_assert_nonnull (strstr (env_text, "\nsaved_entry=0\n"));
	state = read_state_file (f);
	g_assert_null (strstr (state, "[Pending]"));
	g_assert_nonnull (strstr (state, "RolledBackVersion=1.1"));

	/* Not on the list: NotFound, and the list as it was. */
	g_assert_false (mu_dbus_manager1_call_clear_blacklist_sync (f->proxy, v1, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_NOT_FOUND);
	g_clear_error (&error);
	g_assert_cmpstr (mu_dbus_manager1_get_blacklist (f->proxy)[0], ==, v2);
	g_assert_true (mu_dbus_manager1_call_clear_blacklist_sync (f->proxy, v2, NULL, &error));
	g_assert_no_error (error);
	/* The property follows (PropertiesChanged reaches the proxy on the main context). */
	WAIT_FOR (mu_dbus_manager1_get_blacklist (f->proxy) == NULL ||
		  mu_dbus_manager1_get_blacklist (f->proxy)[0] == NULL);
	g_clear_pointer (&env_text, g_free);
	g_assert_true (g_file_get_contents (blacklist_path, &env_text, NULL, NULL));
	g_assert_null (strstr (env_text, v2));

	/* A damaged block: CorruptBootEnv, and neither it nor the state changes. */
	g_clear_pointer (&grubenv, g_free);
	grubenv = write_grubenv (f, "boot_success=0\nnot a variable\n");
	g_assert_true (g_file_get_contents (grubenv, &env_before, NULL, NULL));
	g_assert_true (g_file_get_contents (state_path, &state_before, NULL, NULL));
	g_assert_false (mu_dbus_manager1_call_mark_boot_successful_sync (f->proxy, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_CORRUPT_BOOT_ENV);
	g_assert_nonnull (strstr (error->message, "grub-editenv"));
	g_assert_true (g_file_get_contents (grubenv, &env_after, NULL, NULL));
	g_assert_cmpstr (env_after, ==, env_before);
	g_clear_pointer (&state, g_free);
	state = read_state_file (f);
	g_assert_cmpstr (state, ==, state_before);
	g_assert_cmpint (stop_daemon (f), ==, 0);
	run_script (remove);
}

/*
 * The daemon starts after a power cut between the arming of the counter for v2 and its
 * deploy: v2 is pending in the state and the GRUB counter armed, but v2 was never
 * deployed. An aborted trial: disarmed, no longer pending, nothing blacklisted.
 */
static void
test_aborted_trial_at_start (Fixture *f, gconstpointer data)
{
	g_autofree gchar *script = g_build_filename (g_getenv ("MEDIAUPD_SOURCE_ROOT"), "tests",
						     "unit", "mk-ostree-sysroot.sh", NULL);
	g_autofree gchar *world = g_build_filename (f->tmpdir, "world", NULL);
	g_autofree gchar *commits_path = g_build_filename (world, "commits", NULL);
	g_autofree gchar *state_path = g_build_filename (f->state_dir, "state", NULL);
	g_autofree gchar *commits = NULL;
	g_autofree gchar *extra = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *pending = NULL;
	g_autofree gchar *grubenv = NULL;
	g_autofree gchar *env_text = NULL;
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *v2 = NULL;
	const gchar *const make[] = { script, world, NULL };
	const gchar *const remove[] = { script, "--remove", world, NULL };
	const gchar *const *blacklist;
	const gchar *commit = NULL;
	const gchar *version = NULL;
	gboolean armed = TRUE;
	guint count = 99, limit = 0;

	run_script (make);
	g_assert_true (g_file_get_contents (commits_path, &commits, NULL, NULL));
	v1 = g_strndup (strstr (commits, "v1=") + 3, 64);
	v2 = g_strndup (strstr (commits, "v2=") + 3, 64);
	grubenv = write_grubenv (f, "saved_entry=0\nboot_success=0\nboot_counter=2\n"
				    "mediaupd_boot_limit=2\n");
	extra = g_strdup_printf ("[Update]\nSysroot=%s/sysroot\n[Boot]\nBackend=grub\n"
				 "GrubEnv=%s\nBootLimit=2\n",
				 world, grubenv);
	write_config (f, extra);
	g_assert_cmpint (g_mkdir_with_parents (f->state_dir, 0700), ==, 0);
	pending = g_strdup_printf ("[Pending]\nCommit=%s\nVersion=1.1\n", v2);
	g_assert_true (g_file_set_contents (state_path, pending, -1, NULL));

	start_daemon (f, NULL);
	g_assert_cmpstr (mu_dbus_manager1_get_current_commit (f->proxy), ==, v1);
	g_assert_cmpstr (mu_dbus_manager1_get_pending_commit (f->proxy), ==, "");
	g_variant_get (mu_dbus_manager1_get_boot_counter (f->proxy), "(buu)", &armed, &count,
		       &limit);
	g_assert_false (armed);
	g_variant_get (mu_dbus_manager1_get_rolled_back_from (f->proxy), "(&s&s)", &commit,
		       &version);
	g_assert_cmpstr (commit, ==, "");
	blacklist = mu_dbus_manager1_get_blacklist (f->proxy);
	g_assert_true (blacklist == NULL || blacklist[0] == NULL);
	g_assert_true (g_file_get_contents (grubenv, &env_text, NULL, NULL));
	g_assert_nonnull (strstr (env_text, "\nboot_success=1\n"));
	state = read_state_file (f);
	g_assert_null (strstr (state, "[Pending]"));
	g_assert_null (strstr (state, "RolledBack"));
	g_assert_cmpint (stop_daemon (f), ==, 0);
	run_script (remove);
}

/* Where there is no OSTree system, nothing is marked and nothing is saved. */
static void
test_mark_good_no_sysroot (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	start_daemon (f, NULL);
	g_assert_false (mu_dbus_manager1_call_mark_boot_successful_sync (f->proxy, NULL, &error));
	g_assert_error (error, MU_ERROR, MU_ERROR_FAILED);
	g_assert_nonnull (strstr (error->message, "no booted OSTree deployment"));
	g_assert_null (read_state_file (f));
}

static void
test_sigterm_idle (Fixture *f, gconstpointer data)
{
	gint64 start;

	start_daemon (f, NULL);
	start = g_get_monotonic_time ();
	g_assert_cmpint (stop_daemon (f), ==, 0);
	/* At once: nothing to wait for. */
	g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
	/* The lock went with it: another daemon starts. */
	start_daemon (f, NULL);
	g_assert_cmpstr (mu_dbus_manager1_get_state (f->proxy), ==, "idle");
}

/*
 * The daemon started with its workers stopping at the "discover" pause point, and an
 * ApplyBundle of @path under way in @r: its worker, once stopped there. 0, the case
 * skipped, in a build without the test hooks.
 */
static GPid
apply_paused (Fixture *f, const gchar *path, Reply *r)
{
	GPid worker;

	if (!MEDIAUPD_TEST_HOOKS) {
		g_test_skip ("needs a build with -Dtest_hooks=true");
		return 0;
	}
	start_daemon (f, "discover");
	call_with_file (f, "ApplyBundle", path, no_options (), r);
	WAIT_FOR ((worker = stopped_worker (f)) != 0);
	return worker;
}

static void
test_worker_killed (Fixture *f, gconstpointer data)
{
	Reply r = { 0 };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *name = NULL;
	const gchar *signal_name = NULL, *signal_message = NULL;
	gboolean success = TRUE;
	GPid worker;

	worker = apply_paused (f, luks->random, &r);
	if (worker == 0)
		return;
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_state (f->proxy), "checking") == 0);
	/* One install at a time. */
	{
		Reply busy = { 0 };
		g_autofree gchar *busy_name = NULL;

		call_with_file (f, "ApplyBundle", luks->random, no_options (), &busy);
		WAIT_FOR (busy.done);
		busy_name = remote_name (busy.error);
		g_assert_cmpstr (busy_name, ==, "org.mediaupd.Error.Busy");
		reply_clear (&busy);
	}
	g_assert_cmpint (kill (worker, SIGKILL), ==, 0);
	WAIT_FOR (r.done && f->completed->len == 1);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.WorkerFailed");
	g_assert_nonnull (strstr (r.error->message, "signal 9"));
	g_variant_get (f->completed->pdata[0], "(b&s&s)", &success, &signal_name, &signal_message);
	g_assert_false (success);
	g_assert_cmpstr (signal_name, ==, "org.mediaupd.Error.WorkerFailed");
	assert_last_error (f->proxy, "org.mediaupd.Error.WorkerFailed");
	WAIT_FOR (g_strcmp0 (mu_dbus_manager1_get_state (f->proxy), "idle") == 0);
	assert_nothing_left ();
	reply_clear (&r);
	g_clear_pointer (&name, g_free);

	/* The daemon is still there and takes the next install, which runs to its end. */
	g_assert_false (mu_dbus_manager1_call_cancel_sync (f->proxy, NULL, &error));
	g_assert_true (g_error_matches (error, MU_ERROR, MU_ERROR_NOT_RUNNING));
	call_with_file (f, "ApplyBundle", luks->random, no_options (), &r);
	WAIT_FOR ((worker = stopped_worker (f)) != 0);
	g_assert_cmpint (kill (worker, SIGCONT), ==, 0);
	WAIT_FOR (r.done && f->completed->len == 2);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.NotABundle");
	assert_last_error (f->proxy, "org.mediaupd.Error.NotABundle");
	reply_clear (&r);
}

static void
test_cancel_running (Fixture *f, gconstpointer data)
{
	Reply r = { 0 };
	g_autoptr (GError) error = NULL;
	g_autofree gchar *name = NULL;
	GPid worker;

	worker = apply_paused (f, luks->unsigned_v2, &r);
	if (worker == 0)
		return;
	g_assert_true (mu_dbus_manager1_call_cancel_sync (f->proxy, NULL, &error));
	g_assert_no_error (error);
	/* The worker stops at its next safe point once it runs again. */
	g_assert_cmpint (kill (worker, SIGCONT), ==, 0);
	WAIT_FOR (r.done && f->completed->len == 1);
	name = remote_name (r.error);
	g_assert_cmpstr (name, ==, "org.mediaupd.Error.Cancelled");
	assert_last_error (f->proxy, "org.mediaupd.Error.Cancelled");
	WAIT_FOR (!process_exists (worker));
	assert_nothing_left ();
	reply_clear (&r);
}

static void
test_sigterm_running (Fixture *f, gconstpointer data)
{
	Reply r = { 0 };
	g_autoptr (GError) error = NULL;
	GPid worker;
	gint status;

	worker = apply_paused (f, luks->unsigned_v2, &r);
	if (worker == 0)
		return;
	g_subprocess_send_signal (f->daemon, SIGTERM);
	/* Deferred: the daemon waits for the worker, which is stopped, and leaves it be. */
	g_usleep (G_USEC_PER_SEC / 2);
	g_assert_true (process_exists (worker));
	g_assert_cmpint (stopped_worker (f), ==, worker);
	g_assert_true (process_exists (
		(GPid) g_ascii_strtoll (g_subprocess_get_identifier (f->daemon), NULL, 10)));
	g_assert_cmpint (kill (worker, SIGCONT), ==, 0);
	g_subprocess_wait (f->daemon, NULL, &error);
	g_assert_no_error (error);
	status = g_subprocess_get_status (f->daemon);
	g_assert_true (WIFEXITED (status));
	g_assert_cmpint (WEXITSTATUS (status), ==, 0);
	g_clear_object (&f->daemon);
	g_clear_object (&f->proxy);
	/* The caller was answered before the daemon went: stopped, not installed. */
	WAIT_FOR (r.done);
	g_assert_true (g_error_matches (r.error, MU_ERROR, MU_ERROR_CANCELLED));
	/* The worker's own answer, from where it stopped. */
	g_assert_nonnull (strstr (r.error->message, "Cancelled: discover: "));
	g_assert_false (process_exists (worker));
	assert_nothing_left ();
	reply_clear (&r);
	WAIT_FOR (!name_has_owner (f->conn));
}

int
main (int argc, char **argv)
{
	int ret;

	/* As every client: org.mediaupd.Error.* come back as MU_ERROR codes. */
	mu_error_register_dbus ();
	luks = mu_test_init_as_root (&argc, &argv, "the daemon's workers need root");
	if (luks == NULL)
		return g_test_run ();
	mu_test_kill_stopped_child_on_abort ();

#define ADD(path, func, config)                                                                    \
	g_test_add ("/daemon/" path, Fixture, config, fixture_set_up, func, fixture_tear_down)
	ADD ("properties", test_properties, "[Reboot]\nPolicy=never\n");
	ADD ("inspect", test_inspect, NULL);
	ADD ("apply-not-a-bundle", test_apply_not_a_bundle, NULL);
	ADD ("apply-unknown-option", test_apply_options, NULL);
	ADD ("cancel-idle", test_cancel_idle, NULL);
	ADD ("cancel-running", test_cancel_running, NULL);
	ADD ("agent", test_agent, NULL);
	ADD ("sysroot", test_sysroot, NULL);
	ADD ("mark-good-no-sysroot", test_mark_good_no_sysroot, NULL);
	ADD ("rollback-at-start", test_rollback_at_start, NULL);
	ADD ("aborted-trial-at-start", test_aborted_trial_at_start, NULL);
	ADD ("sigterm-idle", test_sigterm_idle, NULL);
	ADD ("worker-killed", test_worker_killed, NULL);
	ADD ("sigterm-running", test_sigterm_running, NULL);
#undef ADD
	ret = mu_test_run_on_bus (&test_bus);
	g_clear_pointer (&luks, mu_luks_fixtures_free);
	return ret;
}
