/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's queue of media, in-process: the real MuManager on a private bus
 * (GTestDBus), fed by a fake MuMediaSource whose media are plain directories. Workers are
 * real processes: this program re-executed with --worker (as the daemon is), so installs
 * run the engine; on the host they end before any dm-crypt mapping, which is all that
 * these cases need (which bundles are tried, what is reported, what is unmounted).
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <unistd.h>

#include "mu-config.h"
#include "mu-error.h"
#include "mu-manager.h"
#include "mu-media-source.h"
#include "mu-worker-main.h"
#include "test-daemon-util.h"
#include "test-luks-util.h"

#define PATH "/org/mediaupd/Manager1"
#define IFACE "org.mediaupd.Manager1"
#define TIMEOUT_US (30 * G_USEC_PER_SEC)

#define WAIT_FOR(cond) MU_TEST_WAIT_FOR (cond, TIMEOUT_US)

static MuLuksFixtures *luks;
static GTestDBus *test_bus;

/* ---- a media source over directories ---- */

#define FAKE_TYPE_SOURCE (fake_source_get_type ())
G_DECLARE_FINAL_TYPE (FakeSource, fake_source, FAKE, SOURCE, GObject)

struct _FakeSource {
	GObject parent;
	GHashTable *dirs;     /* medium id -> directory */
	GHashTable *mounts;   /* medium id -> times mounted (GUINT_TO_POINTER) */
	GHashTable *unmounts; /* medium id -> times unmounted */
	gboolean hold;        /* mounts wait in @held until released */
	GPtrArray *held;      /* GTask* of mounts not answered yet */
};

static void fake_source_iface_init (MuMediaSourceInterface *iface);
G_DEFINE_TYPE_WITH_CODE (FakeSource, fake_source, G_TYPE_OBJECT,
			 G_IMPLEMENT_INTERFACE (MU_TYPE_MEDIA_SOURCE, fake_source_iface_init))

static void
count (GHashTable *table, const gchar *id)
{
	guint n = GPOINTER_TO_UINT (g_hash_table_lookup (table, id));

	g_hash_table_insert (table, g_strdup (id), GUINT_TO_POINTER (n + 1));
}

static guint
counted (GHashTable *table, const gchar *id)
{
	return GPOINTER_TO_UINT (g_hash_table_lookup (table, id));
}

static gboolean
fake_start (MuMediaSource *source, GError **error)
{
	return TRUE;
}

static void
fake_mount_async (MuMediaSource *source, MuMedium *medium, GCancellable *cancellable,
		  GAsyncReadyCallback callback, gpointer user_data)
{
	FakeSource *self = FAKE_SOURCE (source);
	g_autoptr (GTask) task = g_task_new (source, cancellable, callback, user_data);
	const gchar *dir = g_hash_table_lookup (self->dirs, medium->id);

	if (dir == NULL) {
		g_task_return_new_error (task, MU_ERROR, MU_ERROR_NOT_FOUND, "no medium %s",
					 medium->id);
		return;
	}
	count (self->mounts, medium->id);
	g_task_set_task_data (task, g_strdup (dir), g_free);
	if (self->hold) {
		g_ptr_array_add (self->held, g_steal_pointer (&task));
		return;
	}
	g_task_return_pointer (task, g_strdup (dir), g_free);
}

static gchar *
fake_mount_finish (MuMediaSource *source, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer (G_TASK (result), error);
}

/* Answers the mounts held so far, and mounts at once from now on. */
static void
fake_release_mounts (FakeSource *self)
{
	self->hold = FALSE;
	for (guint i = 0; i < self->held->len; i++) {
		GTask *task = self->held->pdata[i];

		g_task_return_pointer (task, g_strdup (g_task_get_task_data (task)), g_free);
	}
	g_ptr_array_set_size (self->held, 0);
}

static gboolean
fake_unmount (MuMediaSource *source, MuMedium *medium, GError **error)
{
	count (FAKE_SOURCE (source)->unmounts, medium->id);
	return TRUE;
}

static void
fake_source_iface_init (MuMediaSourceInterface *iface)
{
	iface->start = fake_start;
	iface->mount_async = fake_mount_async;
	iface->mount_finish = fake_mount_finish;
	iface->unmount = fake_unmount;
}

static void
fake_source_finalize (GObject *object)
{
	FakeSource *self = FAKE_SOURCE (object);

	g_hash_table_unref (self->dirs);
	g_hash_table_unref (self->mounts);
	g_hash_table_unref (self->unmounts);
	g_ptr_array_unref (self->held);
	G_OBJECT_CLASS (fake_source_parent_class)->finalize (object);
}

static void
fake_source_class_init (FakeSourceClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = fake_source_finalize;
}

static void
fake_source_init (FakeSource *self)
{
	self->dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	self->mounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	self->unmounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	self->held = g_ptr_array_new_with_free_func (g_object_unref);
}

/* ---- fixture ---- */

typedef struct {
	gchar *tmpdir;
	gchar *config_path;
	MuConfig *config;
	FakeSource *source;
	GDBusConnection *server; /* the manager's connection */
	GDBusConnection *client;
	MuManager *manager;
	GPtrArray *signals; /* "Name (args)" of every signal of the manager */
	guint sub;
	GHashTable *media; /* id -> MuMedium */
} Fixture;

static void
on_signal (GDBusConnection *conn, const gchar *sender, const gchar *path, const gchar *iface,
	   const gchar *name, GVariant *params, gpointer user_data)
{
	Fixture *f = user_data;
	g_autofree gchar *args = g_variant_print (params, FALSE);

	if (!g_str_equal (iface, IFACE))
		return;
	g_ptr_array_add (f->signals, g_strdup_printf ("%s %s", name, args));
	g_test_message ("signal %s", (const gchar *) f->signals->pdata[f->signals->len - 1]);
}

static GDBusConnection *
new_connection (void)
{
	return mu_test_bus_connect (g_test_dbus_get_bus_address (test_bus));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree gchar *keys = g_build_filename (luks->tmpdir, "keys", NULL);

	f->tmpdir = mu_test_case_dir_new ("mu-test-manager-XXXXXX", &f->config_path);
	mu_test_write_config (f->config_path,
			      "[Bundle]\nNames=static-update.bundle.enc;second.bundle.enc\n",
			      f->tmpdir, keys, NULL);
	f->config = mu_config_new_from_file (f->config_path, FALSE, &error);
	g_assert_no_error (error);
	f->source = g_object_new (FAKE_TYPE_SOURCE, NULL);
	f->server = new_connection ();
	f->client = new_connection ();
	f->signals = g_ptr_array_new_with_free_func (g_free);
	f->sub = g_dbus_connection_signal_subscribe (f->client, NULL, IFACE, NULL, PATH, NULL,
						     G_DBUS_SIGNAL_FLAGS_NONE, on_signal, f, NULL);
	f->media = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
					  (GDestroyNotify) mu_medium_unref);
	f->manager = mu_manager_new (f->config, f->config_path, f->server,
				     MU_MEDIA_SOURCE (f->source));
	g_assert_true (mu_manager_start (f->manager, &error));
	g_assert_no_error (error);
	g_assert_true (mu_manager_watch_media (f->manager, &error));
	g_assert_no_error (error);
	/* The client's match rule is in place before anything is emitted. */
	g_dbus_connection_flush_sync (f->client, NULL, NULL);
	{
		g_autoptr (GVariant) r = g_dbus_connection_call_sync (f->client,
								      "org.freedesktop.DBus",
								      "/org/freedesktop/DBus",
								      "org.freedesktop.DBus",
								      "GetId", NULL, NULL,
								      G_DBUS_CALL_FLAGS_NONE, -1,
								      NULL, &error);

		g_assert_no_error (error);
		g_assert_nonnull (r);
	}
}

static gboolean
set_flag (gpointer data)
{
	*(gboolean *) data = TRUE;
	return G_SOURCE_REMOVE;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
	gboolean stopped = FALSE;

	mu_manager_stop (f->manager, set_flag, &stopped);
	WAIT_FOR (stopped);
	g_clear_pointer (&f->manager, mu_manager_free);
	g_dbus_connection_signal_unsubscribe (f->client, f->sub);
	g_clear_pointer (&f->signals, g_ptr_array_unref);
	g_clear_pointer (&f->media, g_hash_table_unref);
	g_dbus_connection_close_sync (f->client, NULL, NULL);
	g_dbus_connection_close_sync (f->server, NULL, NULL);
	g_clear_object (&f->client);
	g_clear_object (&f->server);
	g_clear_object (&f->source);
	g_clear_pointer (&f->config, mu_config_free);
	mu_test_case_dir_free (f->tmpdir, f->config_path);
	g_unsetenv ("MEDIAUPD_TEST_PAUSE_AT");
}

/* A medium @id whose root holds @files (name, source file; NULL-terminated pairs). */
static MuMedium *
add_medium (Fixture *f, const gchar *id, ...)
{
	g_autofree gchar *base = g_path_get_basename (id);
	g_autofree gchar *dir = g_build_filename (f->tmpdir, base, NULL);
	const gchar *name;
	va_list ap;
	MuMedium *medium;

	g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
	va_start (ap, id);
	while ((name = va_arg (ap, const gchar *)) != NULL) {
		const gchar *src = va_arg (ap, const gchar *);
		g_autofree gchar *dst = g_build_filename (dir, name, NULL);
		g_autofree gchar *data = NULL;
		gsize len = 0;

		g_assert_true (g_file_get_contents (src, &data, &len, NULL));
		g_assert_true (g_file_set_contents (dst, data, (gssize) len, NULL));
	}
	va_end (ap);
	g_hash_table_insert (f->source->dirs, g_strdup (id), g_steal_pointer (&dir));
	medium = mu_medium_new (id, "/dev/sdx1", "STICK", "usb", "vfat");
	g_hash_table_insert (f->media, medium->id, medium);
	return medium;
}

static void
plug (Fixture *f, MuMedium *medium)
{
	mu_media_source_emit_added (MU_MEDIA_SOURCE (f->source), medium);
}

static void
pull (Fixture *f, MuMedium *medium)
{
	mu_media_source_emit_removed (MU_MEDIA_SOURCE (f->source), medium);
}

static GVariant *
property (Fixture *f, const gchar *name)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r =
		g_dbus_connection_call_sync (f->client,
					     g_dbus_connection_get_unique_name (f->server), PATH,
					     "org.freedesktop.DBus.Properties", "Get",
					     g_variant_new ("(ss)", IFACE, name),
					     G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1,
					     NULL, &error);
	GVariant *value = NULL;

	/* The manager answers on this thread's main context: call it while it runs. */
	g_assert_no_error (error);
	g_variant_get (r, "(v)", &value);
	return value;
}

static guint
count_signals (Fixture *f, const gchar *prefix)
{
	guint n = 0;

	for (guint i = 0; i < f->signals->len; i++)
		n += g_str_has_prefix (f->signals->pdata[i], prefix);
	return n;
}

static gboolean
has_signal (Fixture *f, const gchar *prefix)
{
	return count_signals (f, prefix) > 0;
}

/* This process's one stopped child (a worker at its pause point), else 0. */
static GPid
stopped_worker (void)
{
	return mu_test_stopped_child ("self", "(exe)");
}

/*
 * The manager runs in this thread: properties are read with g_dbus_connection_call_sync
 * from a second thread, so the main context keeps dispatching here.
 */
typedef struct {
	Fixture *f;
	const gchar *name;
	GVariant *value;
	gboolean done;
} PropertyRead;

static gpointer
read_property_thread (gpointer data)
{
	PropertyRead *r = data;

	r->value = property (r->f, r->name);
	g_atomic_int_set (&r->done, TRUE);
	return NULL;
}

static GVariant *
get (Fixture *f, const gchar *name)
{
	PropertyRead r = { f, name, NULL, FALSE };
	g_autoptr (GThread) thread = g_thread_new ("get", read_property_thread, &r);

	WAIT_FOR (g_atomic_int_get (&r.done));
	g_thread_join (g_steal_pointer (&thread));
	return r.value;
}

static gchar *
get_string (Fixture *f, const gchar *name)
{
	g_autoptr (GVariant) v = get (f, name);

	return g_variant_dup_string (v, NULL);
}

static gchar *
get_printed (Fixture *f, const gchar *name)
{
	g_autoptr (GVariant) v = get (f, name);

	return g_variant_print (v, FALSE);
}

/* ---- tests ---- */

static void
test_no_bundle (Fixture *f, gconstpointer data)
{
	MuMedium *m = add_medium (f, "/org/x/block/sdb1", "README.txt", luks->random, NULL);
	g_autofree gchar *last = NULL;
	g_autofree gchar *state = NULL;

	plug (f, m);
	WAIT_FOR (counted (f->source->unmounts, m->id) == 1);
	g_assert_cmpuint (counted (f->source->mounts, m->id), ==, 1);
	/* Nothing to install is no result. */
	last = get_printed (f, "LastError");
	g_assert_cmpstr (last, ==, "('', '')");
	state = get_string (f, "State");
	g_assert_cmpstr (state, ==, "idle");
	g_assert_cmpuint (f->signals->len, ==, 0);
}

/* A foreign file and a bundle: both tried, the foreign one skipped as NotABundle, the
 * medium's result is the bundle's (on the host it cannot be opened: no device-mapper). */
static void
test_two_candidates (Fixture *f, gconstpointer data)
{
	MuMedium *m = add_medium (f, "/org/x/block/sdc1", "static-update.bundle.enc", luks->random,
				  "second.bundle.enc", luks->three, NULL);
	g_autofree gchar *last = NULL;

	plug (f, m);
	WAIT_FOR (has_signal (f, "Completed"));
	WAIT_FOR (counted (f->source->unmounts, m->id) == 1);
	g_assert_cmpuint (count_signals (f, "BundleFound ('/org/x/block/sdc1', "
					    "'static-update.bundle.enc'"),
			  ==, 1);
	g_assert_cmpuint (count_signals (f, "BundleFound ('/org/x/block/sdc1', "
					    "'second.bundle.enc'"),
			  ==, 1);
	g_assert_cmpuint (count_signals (f, "BundleSkipped ('/org/x/block/sdc1', "
					    "'static-update.bundle.enc', "
					    "'org.mediaupd.Error.NotABundle'"),
			  ==, 1);
	g_assert_cmpuint (count_signals (f, "BundleSkipped"), ==, 1);
	g_assert_cmpuint (count_signals (f, "Completed (false, "), ==, 1);
	g_assert_false (has_signal (f, "Completed (false, 'org.mediaupd.Error.NotABundle'"));
	last = get_printed (f, "LastError");
	g_assert_false (g_str_has_prefix (last, "('', "));
	g_assert_null (strstr (last, "NotABundle"));
}

/* While udisks2 mounts a medium the daemon keeps answering on D-Bus; the medium found once
 * the mount completes is tried as usual. */
static void
test_mount_does_not_block (Fixture *f, gconstpointer data)
{
	MuMedium *m = add_medium (f, "/org/x/block/sdg1", "static-update.bundle.enc", luks->random,
				  NULL);
	g_autofree gchar *state = NULL;

	f->source->hold = TRUE;
	plug (f, m);
	WAIT_FOR (f->source->held->len == 1);
	/* Answered from the manager's main context while the mount is outstanding. */
	state = get_string (f, "State");
	g_assert_cmpstr (state, ==, "checking");
	g_assert_false (has_signal (f, "BundleFound"));
	fake_release_mounts (f->source);
	WAIT_FOR (has_signal (f, "Completed (false, 'org.mediaupd.Error.NotABundle'"));
	WAIT_FOR (counted (f->source->unmounts, m->id) == 1);
	g_assert_cmpuint (count_signals (f, "BundleFound ('/org/x/block/sdg1', "
					    "'static-update.bundle.enc'"),
			  ==, 1);
}

/* A medium pulled while it is being mounted: nothing tried, MediaRemoved, unmounted. */
static void
test_removed_during_mount (Fixture *f, gconstpointer data)
{
	MuMedium *m = add_medium (f, "/org/x/block/sdh1", "static-update.bundle.enc", luks->three,
				  NULL);
	g_autofree gchar *state = NULL;

	f->source->hold = TRUE;
	plug (f, m);
	WAIT_FOR (f->source->held->len == 1);
	pull (f, m);
	fake_release_mounts (f->source);
	WAIT_FOR (has_signal (f, "Completed (false, 'org.mediaupd.Error.MediaRemoved'"));
	WAIT_FOR (counted (f->source->unmounts, m->id) == 1);
	g_assert_false (has_signal (f, "BundleFound"));
	state = get_string (f, "State");
	g_assert_cmpstr (state, ==, "idle");
}

/* The daemon stopping while a mount is outstanding waits for it, then unmounts. */
static void
test_stop_during_mount (Fixture *f, gconstpointer data)
{
	MuMedium *m = add_medium (f, "/org/x/block/sdi1", "static-update.bundle.enc", luks->three,
				  NULL);
	gboolean stopped = FALSE;

	f->source->hold = TRUE;
	plug (f, m);
	WAIT_FOR (f->source->held->len == 1);
	mu_manager_stop (f->manager, set_flag, &stopped);
	g_main_context_iteration (NULL, FALSE);
	g_assert_false (stopped);
	fake_release_mounts (f->source);
	WAIT_FOR (stopped);
	g_assert_cmpuint (counted (f->source->unmounts, m->id), ==, 1);
	g_assert_false (has_signal (f, "BundleFound"));
}

/* One medium at a time; a queued medium that is pulled leaves the queue unopened; the
 * medium being installed that is pulled stops its install as MediaRemoved. */
static void
test_queue_and_removal (Fixture *f, gconstpointer data)
{
	MuMedium *a = add_medium (f, "/org/x/block/sdd1", "static-update.bundle.enc", luks->three,
				  NULL);
	MuMedium *b = add_medium (f, "/org/x/block/sde1", "static-update.bundle.enc", luks->three,
				  NULL);
	MuMedium *c = add_medium (f, "/org/x/block/sdf1", "static-update.bundle.enc", luks->random,
				  NULL);
	g_autofree gchar *queued = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *last = NULL;
	GPid worker;

	if (!MEDIAUPD_TEST_HOOKS) {
		g_test_skip ("needs a build with -Dtest_hooks=true");
		return;
	}
	g_setenv ("MEDIAUPD_TEST_PAUSE_AT", "discover", TRUE);
	plug (f, a);
	plug (f, b);
	/* Announced twice: still one job each. */
	plug (f, a);
	plug (f, b);
	WAIT_FOR ((worker = stopped_worker ()) != 0);
	queued = get_printed (f, "QueuedMedia");
	g_assert_cmpstr (queued, ==, "['/org/x/block/sde1']");
	state = get_string (f, "State");
	g_assert_cmpstr (state, ==, "checking");
	pull (f, b);
	g_clear_pointer (&queued, g_free);
	queued = get_printed (f, "QueuedMedia");
	g_assert_cmpstr (queued, ==, "[]");
	/* The install of a: pulled while its worker stands at discover. */
	pull (f, a);
	g_assert_cmpint (kill (worker, SIGCONT), ==, 0);
	WAIT_FOR (has_signal (f, "Completed"));
	g_assert_cmpuint (count_signals (f, "Completed (false, "
					    "'org.mediaupd.Error.MediaRemoved'"),
			  ==, 1);
	WAIT_FOR (counted (f->source->unmounts, a->id) == 1);
	last = get_printed (f, "LastError");
	g_assert_nonnull (strstr (last, "MediaRemoved"));
	g_assert_nonnull (strstr (last, "discover: the medium was removed during the update"));
	/* b was never opened. */
	g_assert_cmpuint (counted (f->source->mounts, b->id), ==, 0);

	/* The next plug works. */
	g_unsetenv ("MEDIAUPD_TEST_PAUSE_AT");
	plug (f, c);
	WAIT_FOR (count_signals (f, "Completed") == 2);
	g_assert_cmpuint (count_signals (f, "Completed (false, 'org.mediaupd.Error.NotABundle'"),
			  ==, 1);
	WAIT_FOR (counted (f->source->unmounts, c->id) == 1);
	g_clear_pointer (&state, g_free);
	state = get_string (f, "State");
	g_assert_cmpstr (state, ==, "idle");
}

int
main (int argc, char **argv)
{
	int ret;

	/* This program is also its own worker, as the daemon is (/proc/self/exe --worker). */
	for (int i = 1; i < argc; i++) {
		if (g_str_has_prefix (argv[i], "--worker"))
			return mu_worker_main (argc, argv);
	}
	luks = mu_test_init_as_root (&argc, &argv, "the manager's workers need root");
	if (luks == NULL)
		return g_test_run ();
	/* The manager logs refusals and failures as warnings, in this process. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	mu_error_register_dbus ();
	mu_test_kill_stopped_child_on_abort ();
#define ADD(path, func)                                                                            \
	g_test_add ("/manager/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
	ADD ("no-bundle", test_no_bundle);
	ADD ("two-candidates", test_two_candidates);
	ADD ("queue-and-removal", test_queue_and_removal);
	ADD ("mount-does-not-block", test_mount_does_not_block);
	ADD ("removed-during-mount", test_removed_during_mount);
	ADD ("stop-during-mount", test_stop_during_mount);
#undef ADD
	ret = mu_test_run_on_bus (&test_bus);
	g_clear_pointer (&luks, mu_luks_fixtures_free);
	return ret;
}
