/* config.h - the observer's effective settings, from four sources, highest
 * first: command-line flags, environment variables, a YAML file, built-in
 * defaults. Every setting has all three forms; see config_table.c's table. */
#ifndef OBS_CONFIG_H
#define OBS_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/log.h"
#include "observer.h"

#define OBS_MAX_PIDS        64
#define OBS_PIN_DIR_DEFAULT "/sys/fs/bpf/gunicorn-observer"

/* The metrics endpoint's connection limits (see http.c). */
#define OBS_HTTP_CONN_LIMIT   512
#define OBS_HTTP_PER_IP_LIMIT 16
#define OBS_HTTP_TIMEOUT_S    10

/* How the BPF side sees requests (see loader.c). */
enum obs_data_plane {
	OBS_PLANE_AUTO = 0, /* the first of socket, fentry, syscall that the kernel offers */
	OBS_PLANE_SOCKET,   /* tp_btf sock_recv_length/sock_send_length (Linux 6.3+) */
	OBS_PLANE_FENTRY,   /* fexit sock_recvmsg/sock_sendmsg/kernel_sendpage (BPF trampolines) */
	OBS_PLANE_SYSCALL,  /* syscall tracepoints */
};

/* "auto", "socket", "fentry" or "syscall"; -1 for anything else. */
int config_plane_parse(const char *s);
const char *config_plane_name(enum obs_data_plane p);

struct obs_redis_config {
	int enabled;
	char host[256];
	unsigned short port;
	int db;
	char password[256]; /* "" for no AUTH */
	char prefix[128];   /* never holds ':' */
	unsigned ttl_seconds;
	int ttl_disabled;
	double interval_s; /* between two mirror passes */
};

struct obs_config {
	char listen_addr[64];
	unsigned short listen_port;
	pid_t pids[OBS_MAX_PIDS]; /* only these masters; empty means all */
	size_t npids;
	char match[256]; /* only masters whose command line contains this; "" means all */
	enum log_level level;
	double dur_bounds[OBS_MAX_DUR_BOUNDS]; /* seconds */
	size_t ndur;
	double size_bounds[OBS_MAX_SIZE_BOUNDS]; /* bytes */
	size_t nsize;
	double
	    stuck_threshold; /* seconds busy before a worker is stuck; 0: half the master's --timeout, else 15 */
	struct obs_redis_config redis;
	int pin; /* keep maps and programs in pin_dir across restarts */
	char pin_dir[256];
	unsigned max_conns;
	unsigned max_workers; /* sizes the per-worker maps (observer.h) */
	enum obs_data_plane data_plane;
	/* the metrics endpoint: no TLS when tls_cert is "", no basic auth when
	 * auth_user is ""; the password file holds a hash, never the password */
	char tls_cert[256];
	char tls_key[256];
	char auth_user[128];
	char auth_password_file[256];
	unsigned http_conn_limit, http_per_ip_limit, http_timeout_s;
	const char *proc_root;
	const char *pods_dir;       /* the kubelet's /var/log/pods */
	const char *containers_dir; /* the kubelet's /var/log/containers */
};

/* Where each setting's value came from, for --print-config. */
#define OBS_SOURCE_LEN 160
struct obs_sources {
	char of[64][OBS_SOURCE_LEN];
};

/* Built-in defaults, every source "default". */
void config_defaults(struct obs_config *c, struct obs_sources *src);

/* Sets the setting named by flag (without "--"; a composite flag such as
 * "listen" too) from text; on a bad value writes what is wrong into err and
 * returns -1; -2 when no setting has that flag. */
int config_set_flag(struct obs_config *c, struct obs_sources *src, const char *flag, const char *text,
		    char *err, size_t errlen);
/* The environment variables of every setting; prints one line naming the
 * variable and returns -1 on a bad value. */
int config_from_env(struct obs_config *c, struct obs_sources *src);
/* A YAML file: the Python exporter's layout (exporter.prometheus,
 * exporter.redis) and ours (observer). Prints "FILE:LINE:COL: what is
 * wrong" and returns -1 on any error. */
int config_from_file(struct obs_config *c, struct obs_sources *src, const char *path);
/* Checks that hold across settings; prints one line and returns -1. */
int config_validate(const struct obs_config *c);
/* Writes the effective configuration as YAML, each value with its source. */
void config_print(FILE *f, const struct obs_config *c, const struct obs_sources *src);

/* Is the process (with command line text) one the user asked for? */
int config_wants_pid(const struct obs_config *c, pid_t pid);
int config_wants_cmdline(const struct obs_config *c, char *const *argv, int argc);

/* The YAML paths of every setting and section, for suggestions. */
const char *config_nearest_key(const char *key);

#endif
