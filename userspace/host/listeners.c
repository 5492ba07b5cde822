/* listeners.c - finds the listening sockets a process holds (socket inodes
 * under /proc/PID/fd) and asks the kernel for their accept queues with
 * inet_diag and unix_diag, from inside the process's network namespace. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "host/listeners.h"

#define TCP_LISTEN_STATE 10
#define MAX_INODES       256

struct inodes {
	uint64_t v[MAX_INODES];
	size_t n;
};

static int socket_inodes(const char *root, pid_t pid, struct inodes *out)
{
	char path[128], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/fd", root, (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	out->n = 0;
	while ((de = readdir(d)) && out->n < MAX_INODES) {
		char fdpath[400];
		unsigned long long ino;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			out->v[out->n++] = ino;
	}
	closedir(d);
	return 0;
}

static int has_inode(const struct inodes *in, uint64_t ino)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i] == ino)
			return 1;
	return 0;
}

/* A NETLINK_SOCK_DIAG socket in pid's network namespace. */
static int diag_socket(const char *root, pid_t pid)
{
	char path[128];
	struct stat mine, theirs;
	int self = -1, target = -1, fd = -1;

	snprintf(path, sizeof(path), "%s/%d/ns/net", root, (int)pid);
	if (stat(path, &theirs) || stat("/proc/self/ns/net", &mine))
		return -1;
	if (theirs.st_ino == mine.st_ino && theirs.st_dev == mine.st_dev)
		return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
		/* a socket keeps the namespace it was made in */
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (setns(self, CLONE_NEWNET) != 0) {
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
	}
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return fd;
}

struct matches {
	const struct inodes *in;
	struct listener *out;
	size_t max, n;
};

static void add(struct matches *f, const char *name, uint32_t backlog, uint32_t max)
{
	if (f->n >= f->max)
		return;
	snprintf(f->out[f->n].name, sizeof(f->out[f->n].name), "%s", name);
	f->out[f->n].backlog = backlog;
	f->out[f->n].backlog_max = max;
	f->n++;
}

static void on_inet(struct matches *f, const struct nlmsghdr *h)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	char addr[INET6_ADDRSTRLEN], name[OBS_LISTEN_NAME];

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || !has_inode(f->in, m->idiag_inode))
		return;
	inet_ntop(m->idiag_family, m->id.idiag_src, addr, sizeof(addr));
	if (m->idiag_family == AF_INET6)
		snprintf(name, sizeof(name), "[%s]:%u", addr, ntohs(m->id.idiag_sport));
	else
		snprintf(name, sizeof(name), "%s:%u", addr, ntohs(m->id.idiag_sport));
	/* for a listener, rqueue is the accept queue and wqueue its limit */
	add(f, name, m->idiag_rqueue, m->idiag_wqueue);
}

static void on_unix(struct matches *f, const struct nlmsghdr *h)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct unix_diag_rqlen *q = NULL;
	char name[OBS_LISTEN_NAME] = "unix:";
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	const struct nlattr *a = (const void *)(m + 1);

	if (len < 0 || !has_inode(f->in, m->udiag_ino))
		return;
	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len) {
		const char *payload = (const char *)a + NLA_HDRLEN;
		int plen = a->nla_len - NLA_HDRLEN;

		if (a->nla_type == UNIX_DIAG_NAME && plen > 0) {
			/* an abstract name starts with NUL: show it as '@' */
			int n = plen < OBS_LISTEN_NAME - 6 ? plen : OBS_LISTEN_NAME - 6;

			memcpy(name + 5, payload, (size_t)n);
			name[5 + n] = '\0';
			if (payload[0] == '\0')
				name[5] = '@';
		} else if (a->nla_type == UNIX_DIAG_RQLEN && plen >= (int)sizeof(*q)) {
			q = (const void *)payload;
		}
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	add(f, name, q ? q->udiag_rqueue : 0, q ? q->udiag_wqueue : 0);
}

/* Sends one dump request and feeds every answer to cb. */
static int dump(int fd, const void *req, size_t len, struct matches *f,
		void (*cb)(struct matches *, const struct nlmsghdr *))
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr h;
		unsigned char body[64];
	} msg;
	long buf[8192 / sizeof(long)];

	memset(&msg, 0, sizeof(msg));
	msg.h.nlmsg_len = NLMSG_LENGTH(len);
	msg.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	memcpy(msg.body, req, len);
	if (sendto(fd, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const void *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			cb(f, h);
		}
	}
}

int listeners_read(const char *proc_root, pid_t pid, struct listener *out, size_t max)
{
	struct inodes in;
	struct matches f = { .in = &in, .out = out, .max = max };
	struct inet_diag_req_v2 inet = { .sdiag_protocol = IPPROTO_TCP,
					 .idiag_states = 1 << TCP_LISTEN_STATE };
	struct unix_diag_req ux = { .sdiag_family = AF_UNIX,
				    .udiag_states = 1 << TCP_LISTEN_STATE,
				    .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN };
	int fd;

	if (socket_inodes(proc_root, pid, &in))
		return -1;
	if (in.n == 0)
		return 0;
	fd = diag_socket(proc_root, pid);
	if (fd < 0)
		return -1;
	inet.sdiag_family = AF_INET;
	dump(fd, &inet, sizeof(inet), &f, on_inet);
	inet.sdiag_family = AF_INET6;
	dump(fd, &inet, sizeof(inet), &f, on_inet);
	dump(fd, &ux, sizeof(ux), &f, on_unix);
	close(fd);
	return (int)f.n;
}
