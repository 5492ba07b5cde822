/* series.h - the series model: every metric family is one row (name, type,
 * help, what it is counted per, and how its samples come out of a
 * snapshot), and a walk hands each sample, with its labels and value, to a
 * renderer. The Prometheus text (render/text.c) and the Redis mirror
 * (redis/records.c) walk the same rows; neither names a family. */
#ifndef OBS_SERIES_H
#define OBS_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "model/snapshot.h"

enum family_type { FT_COUNTER, FT_GAUGE, FT_HISTOGRAM };
/* What a family's samples are per: a worker, a master, or the observer. */
enum family_scope { PER_WORKER, PER_MASTER, ONCE };

struct family {
	const char *name;
	enum family_type type;
	const char *help;
	enum family_scope scope;
};

/* Whose labels open a sample's label set. */
enum owner { OWNER_NONE, OWNER_WORKER, OWNER_MASTER };

/* A value as the text format writes it: an integer, or a decimal with prec
 * digits after the point. */
enum value_form { VF_UINT, VF_INT, VF_FIXED };

struct value {
	enum value_form form;
	int prec;
	uint64_t u;
	int64_t i;
	double d;
};

/* Which sample of a histogram; PART_VALUE for the others. */
enum sample_part { PART_VALUE, PART_BUCKET, PART_SUM, PART_COUNT };

#define SERIES_MAX_EXTRA 4

struct sample {
	const struct family *f;
	enum sample_part part;
	enum owner owner;
	size_t index; /* of the owner in the snapshot's workers or masters */
	size_t nextra;
	const char *key[SERIES_MAX_EXTRA]; /* labels after the owner's: raw values */
	const char *val[SERIES_MAX_EXTRA];
	struct value v;
	double own; /* PART_BUCKET: the bucket's own count (v is cumulative) */
};

typedef void (*sample_fn)(void *ctx, const struct sample *s);

/* A snapshot as the model walks it, with the strings its samples point to. */
struct series {
	const struct snapshot *s;
	char le_dur[OBS_MAX_DUR_BOUNDS][32];
	char le_size[OBS_MAX_SIZE_BOUNDS][32];
};

void series_init(struct series *m, const struct snapshot *s);
size_t series_nfamilies(void);
const struct family *series_family(size_t fam);
/* Whether family fam is declared in this snapshot (most always are, even
 * without a sample). */
int series_shown(const struct series *m, size_t fam);
/* How many owners family fam walks: workers, masters, or 1. */
size_t series_items(const struct series *m, size_t fam);
/* Hands fn the samples of owners [from, to) of family fam, in order: a
 * histogram's buckets ascending, then +Inf, _sum and _count. */
void series_walk(const struct series *m, size_t fam, size_t from, size_t to, sample_fn fn, void *ctx);

/* The labels of an owner, in order: app, master_pid, worker_pid (a
 * worker's), then namespace, pod and container in Kubernetes. */
#define SERIES_MAX_OWNER 6
struct owner_labels {
	size_t n;
	const char *name[SERIES_MAX_OWNER];
	const char *value[SERIES_MAX_OWNER];
	char pid[2][16];
};

void series_owner_labels(const struct series *m, enum owner o, size_t index, struct owner_labels *out);
/* "counter", "gauge" or "histogram". */
const char *series_type_name(enum family_type t);
/* The suffix of a sample's name after its family's: "_bucket", "_sum",
 * "_count" or "". */
const char *series_suffix(enum sample_part p);
/* Appends a value as the text format writes it. */
void series_value_text(struct strbuf *out, const struct value *v);

#endif
