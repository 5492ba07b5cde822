/* aggregate.h - `gunicorn-observer aggregate`: one /metrics for every
 * observer (and Python exporter) that mirrors into one Redis. */
#ifndef OBS_AGGREGATE_H
#define OBS_AGGREGATE_H

/* argv[0] is "aggregate". Returns the process exit status: 0 after
 * SIGINT/SIGTERM, 2 for a bad option, 1 when it cannot serve. */
int aggregate_main(int argc, char **argv);

#endif
