/* pin.h - the kernel side kept across restarts: maps and program links
 * pinned in a directory of a BPF filesystem, owned by one observer at a
 * time through a lock on that directory. */
#ifndef OBS_PIN_H
#define OBS_PIN_H

#include <limits.h>
#include <stddef.h>

#include <bpf/libbpf.h>

struct pin {
	char dir[PATH_MAX];   /* empty: nothing is pinned */
	char links[PATH_MAX]; /* the links directory of the programs in use */
	int lock_fd;
	int reused; /* the running programs are a previous observer's */
};

/* Mounts the BPF filesystem on /sys/fs/bpf when dir is under it and it is
 * missing, creates dir and locks it. Prints one line that says what to do
 * and returns -1 when that fails or another observer holds the lock. */
int pin_begin(struct pin *p, const char *dir);
/* Before load: every map of obj (but .rodata and the like) is reused from,
 * or pinned to, dir. Pins that no longer fit obj (another version) are
 * removed, the links with them. */
int pin_maps(struct pin *p, struct bpf_object *obj);
/* After load: 1 when links to the same programs with the same read-only
 * data are pinned (they keep running; attach nothing), 0 when the programs
 * must be attached, -1 on error. */
int pin_find_links(struct pin *p, const struct bpf_object_skeleton *s);
/* After attach: pins every link, then unpins older programs' links. */
int pin_links(struct pin *p, const struct bpf_object_skeleton *s);
/* Before the skeleton is destroyed: pinned links stay attached. */
void pin_keep_links(const struct pin *p, const struct bpf_object_skeleton *s);
void pin_end(struct pin *p);

/* gunicorn-observer cleanup [--pin-dir DIR]: detaches and removes the pins. */
int pin_cleanup_main(int argc, char **argv);

#endif
