/* oracle_mirror.c - the text the old Redis mirror appended to every
 * exposition (mirror_render of redis/mirror.c in cb4040f), kept as the
 * oracle of tests/test_same_as_before.c: its figures are passed in instead
 * of read from the mirror thread, the text is the old one. */
#include "oracle_mirror.h"

void oracle_mirror_render(int up, unsigned long long errors, struct strbuf *out)
{
	sb_printf(out,
		  "# HELP gunicorn_observer_redis_up 1 when the last Redis mirror pass was written.\n"
		  "# TYPE gunicorn_observer_redis_up gauge\n"
		  "gunicorn_observer_redis_up %d\n"
		  "# HELP gunicorn_observer_redis_errors_total Redis mirror passes that were not written.\n"
		  "# TYPE gunicorn_observer_redis_errors_total counter\n"
		  "gunicorn_observer_redis_errors_total %llu\n",
		  up, errors);
}
