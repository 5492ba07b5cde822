/* oracle_mirror.h - the old Redis mirror's own families (mirror_render of
 * redis/mirror.c in cb4040f), the oracle of tests/test_same_as_before.c. */
#ifndef OBS_ORACLE_MIRROR_H
#define OBS_ORACLE_MIRROR_H

#include "lib/strbuf.h"

/* Appends gunicorn_observer_redis_up and _errors_total as the old trailer
 * did; up and errors are what mirror_stats gave it. */
void oracle_mirror_render(int up, unsigned long long errors, struct strbuf *out);

#endif
