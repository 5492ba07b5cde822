/* plane.h - which data planes this kernel offers, and the choice of one. */
#ifndef OBS_PLANE_H
#define OBS_PLANE_H

#include <stddef.h>

#include "config/config.h"

/* The functions the fentry plane's programs (fexit_<name>) attach to; the
 * first ones must all be there, the others are hooked where the kernel has
 * them (IPv6 may be a module; the sendpage functions are gone in 6.5). */
#define PLANE_FEXIT_NEEDED   4
#define PLANE_FEXIT_N        8
#define PLANE_FEXIT_SENDPAGE 6 /* the first sendpage function */
extern const char *const plane_fexit_fns[PLANE_FEXIT_N];

/* What the kernel offers, probed once: each plane's answer, and why not. */
struct plane_offer {
	int socket, fentry, syscall;
	unsigned fexit_fns;   /* bit i: the kernel has plane_fexit_fns[i] */
	char floor_why[256];  /* why no plane can run (the kernel is too old), empty when one can */
	char socket_why[128]; /* why a plane is not offered, empty when it is */
	char fentry_why[160];
	char syscall_why[128];
};

/* Mounts tracefs at /sys/kernel/tracing unless it (or debugfs's) is there;
 * prints one line and returns -1 when that fails. */
int tracefs_mount(void);

/* Probes the kernel (BTF, tracefs, one fexit program attached and detached
 * at once). Needs root for the attach; without it fentry reads as refused. */
void plane_probe(struct plane_offer *po);

/* The plane for want (auto: socket, else fentry, else syscall). Prints one
 * line saying what to do and returns -1 when the plane asked for is not
 * offered; *why gets the reason of the choice for the log line. */
int plane_choose(const struct plane_offer *po, enum obs_data_plane want, enum obs_data_plane *plane,
		 const char **why);

/* The hooks of a plane, for the log line: "socket tracepoints", ... */
const char *plane_hooks(enum obs_data_plane plane, const struct plane_offer *po);

/* gunicorn-observer data-planes: prints what this kernel offers, one line a
 * plane, and the one auto takes; exit status 0, 2 for bad usage. */
int plane_main(int argc, char **argv);

#endif
