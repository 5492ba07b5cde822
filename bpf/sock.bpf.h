/* sock.bpf.h - what the programs read of a socket and of the syscall that
 * moves its bytes: constants that vmlinux.h has no macros for, the cookie,
 * and the buffer of the read or write in progress, from the registers the
 * syscall saved at entry. */
#ifndef OBS_SOCK_BPF_H
#define OBS_SOCK_BPF_H

#define OBS_AF_UNIX     1
#define OBS_AF_INET     2
#define OBS_AF_INET6    10
#define OBS_MSG_PEEK    2
#define OBS_S_IFMT      00170000
#define OBS_S_IFSOCK    0140000
#define OBS_SOCK_STREAM 1

/* Syscall numbers of the calls whose buffers we read. */
#if defined(__TARGET_ARCH_x86)
#define OBS_NR_READ      0
#define OBS_NR_WRITE     1
#define OBS_NR_READV     19
#define OBS_NR_WRITEV    20
#define OBS_NR_SENDTO    44
#define OBS_NR_RECVFROM  45
#define OBS_NR_SENDMSG   46
#define OBS_NR_RECVMSG   47
#define OBS_NR_SENDFILE  40
#define syscall_nr(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define OBS_NR_READ      63
#define OBS_NR_WRITE     64
#define OBS_NR_READV     65
#define OBS_NR_WRITEV    66
#define OBS_NR_SENDTO    206
#define OBS_NR_RECVFROM  207
#define OBS_NR_SENDMSG   211
#define OBS_NR_RECVMSG   212
#define OBS_NR_SENDFILE  71
#define syscall_nr(regs) ((regs)->syscallno)
#else
#error "syscall numbers: add this architecture"
#endif

/* Can a socket of this type, family and state carry HTTP/1.x: a connected
 * stream (TCP or unix)? A TCP connection that was reset (CLOSE) still
 * gives the bytes that came before the reset: its request is one the
 * worker reads. */
static __always_inline int stream_connected(__u16 type, __u16 family, __u8 state)
{
	if (type != OBS_SOCK_STREAM)
		return 0;
	if (family == OBS_AF_UNIX)
		return state == TCP_ESTABLISHED;
	if (family == OBS_AF_INET || family == OBS_AF_INET6)
		return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT || state == TCP_CLOSE;
	return 0;
}

/* The same for a socket read through CO-RE (a pointer that is not trusted). */
static __always_inline int connected_stream(const struct sock *sk)
{
	return stream_connected(BPF_CORE_READ(sk, sk_type), BPF_CORE_READ(sk, __sk_common.skc_family),
				BPF_CORE_READ(sk, __sk_common.skc_state));
}

/* The data of the read or write the current task is in, from the syscall's
 * saved registers (the socket tracepoints fire inside the syscall); returns
 * the syscall's number. */
static __always_inline long syscall_io(struct io_args *a)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = syscall_nr(regs);

	a->fd = (__s32)PT_REGS_PARM1_SYSCALL(regs);
	a->buf = (__u64)PT_REGS_PARM2_SYSCALL(regs);
	switch (nr) {
	case OBS_NR_READ:
	case OBS_NR_WRITE:
	case OBS_NR_RECVFROM:
	case OBS_NR_SENDTO:
		a->kind = IO_BUF;
		break;
	case OBS_NR_READV:
	case OBS_NR_WRITEV:
		a->kind = IO_IOV;
		break;
	case OBS_NR_RECVMSG:
	case OBS_NR_SENDMSG:
		a->kind = IO_MSG;
		break;
	default: /* sendfile, splice, the mmsg calls, io_uring: bytes only */
		a->kind = IO_NODATA;
		a->buf = 0;
	}
	return nr;
}

#endif /* OBS_SOCK_BPF_H */
