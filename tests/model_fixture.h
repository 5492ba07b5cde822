/* model_fixture.h - what the model's tests (test_build.c, test_retire.c)
 * stand on: fake loader maps, an empty registry, a configuration whose
 * /proc is an empty directory (workers have no /proc figures), a host
 * cache, and the snapshot of the maps as they are. A test includes it
 * once, after fake_maps.h. */
#ifndef OBS_TEST_MODEL_FIXTURE_H
#define OBS_TEST_MODEL_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "fake_maps.h"
#include "tmp_tree.h"

#include "model/build.h"

static struct fake_loader_maps fm;
static struct loader ld;
static __u64 drops[OBS_DROP_MAX];
static struct registry reg;
static struct obs_config cfg;
static struct host_cache *hc;
static char *proc_root;

/* tmpl: a mkdtemp template for the empty /proc. -1 when it cannot be made. */
static int fixture_open(char *tmpl, enum obs_data_plane plane)
{
	if (!mkdtemp(tmpl))
		return -1;
	proc_root = strdup(tmpl);
	memset(&cfg, 0, sizeof(cfg));
	cfg.proc_root = proc_root;
	hc = host_cache_new();
	fake_maps_install();
	fake_loader_maps_new(&fm, 8);
	fake_loader_init(&ld, &fm, plane, drops);
	memset(&reg, 0, sizeof(reg));
	return 0;
}

static int fixture_close(void **state)
{
	(void)state;
	fake_maps_uninstall();
	registry_free(&reg);
	host_cache_free(hc);
	tmp_tree_remove(&proc_root);
	return 0;
}

/* Reads the maps and builds s from them, the registry and the host. */
static void fixture_build(struct snapshot *s)
{
	struct kread k = { 0 };

	memset(s, 0, sizeof(*s));
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(snapshot_build(&k, &reg, &cfg, hc, s), 0);
	kread_free(&k);
}

#endif
