/* caps.h - once the programs are attached, keep only the capabilities the
 * running observer still uses, in every set and in the bounding set. */
#ifndef OBS_CAPS_H
#define OBS_CAPS_H

/* Drops every other capability; probe_map_fd is a map of ours, read to learn
 * whether this kernel still wants CAP_BPF for maps opened before. Logs the
 * kept set at info; prints one line and returns -1 when it cannot drop. */
int caps_drop(int probe_map_fd);

#endif
