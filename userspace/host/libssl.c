/* libssl.c - finds the OpenSSL of a process for the TLS probes. Python's
 * _ssl links the system libssl (libssl.so.3 on Debian 12, .so.1.1 on older
 * systems; both export SSL_read, SSL_write and from 1.1.1 their _ex forms,
 * which CPython 3.10 and later call). A build with OpenSSL linked in has
 * the functions in another object (_ssl's module, the interpreter): they
 * are probed there when its symbol table names them. */
#include "host/libssl.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const ssl_fn_names[SSL_FN_N] = {
	[SSL_FN_READ] = "SSL_read",
	[SSL_FN_READ_EX] = "SSL_read_ex",
	[SSL_FN_WRITE] = "SSL_write",
	[SSL_FN_WRITE_EX] = "SSL_write_ex",
	[SSL_FN_DO_HANDSHAKE] = "SSL_do_handshake",
	[SSL_FN_FREE] = "SSL_free",
};

/* The file offset of virtual address v: the loadable segment holding it. */
static uint64_t file_offset(Elf *e, uint64_t v)
{
	size_t n = 0;
	GElf_Phdr ph;

	if (elf_getphdrnum(e, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    v >= ph.p_vaddr && v < ph.p_vaddr + ph.p_memsz)
			return v - ph.p_vaddr + ph.p_offset;
	return 0;
}

/* The SSL functions defined in one symbol table section. */
static void scan_symbols(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, uint64_t off[SSL_FN_N],
			 uint64_t size[SSL_FN_N])
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym s;

	for (size_t i = 0; d && i < n; i++) {
		const char *name;

		if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
		    s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		name = elf_strptr(e, sh->sh_link, s.st_name);
		if (!name || strncmp(name, "SSL_", 4) != 0)
			continue;
		for (int k = 0; k < SSL_FN_N; k++) {
			size_t len = strlen(ssl_fn_names[k]);

			/* "SSL_read" or a versioned "SSL_read@@OPENSSL_3.0.0" in .symtab */
			if (!off[k] && strncmp(name, ssl_fn_names[k], len) == 0 &&
			    (name[len] == '\0' || name[len] == '@')) {
				off[k] = file_offset(e, s.st_value);
				size[k] = s.st_size;
			}
		}
	}
}

int libssl_symbols(const char *path, uint64_t off[SSL_FN_N], uint64_t size[SSL_FN_N])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	uint64_t sizes[SSL_FN_N];
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *e;

	if (!size)
		size = sizes;
	memset(off, 0, sizeof(off[0]) * SSL_FN_N);
	memset(size, 0, sizeof(size[0]) * SSL_FN_N);
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	while (e && (scn = elf_nextscn(e, scn)) != NULL)
		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB))
			scan_symbols(e, scn, &sh, off, size);
	if (e)
		elf_end(e);
	close(fd);
	for (int k = SSL_FN_READ; k <= SSL_FN_WRITE_EX; k++)
		found += off[k] != 0;
	return found;
}

/* Where a probe is cheap. A uprobe on x86 replaces the probed
 * instruction with a breakpoint and then either emulates the instruction
 * (a push, a call, a jump) or executes it out of line, which takes a
 * second trap: measured here (make bench) at about 1.4 us for an emulated
 * push and 11.6 us for the "sub $n,%rsp" OpenSSL 3's SSL_read_ex and
 * SSL_write_ex begin with. Those two only call ssl_read_internal
 * (ssl_write_internal) with their own four arguments and clamp its result
 * at 0, and SSL_read (SSL_write) calls the same function: one probe on it
 * sees both, with the _ex arguments, at a push. */
#define SUB_RSP_IMM8_LEN 4 /* 48 83 ec ib */
#define CALL_REL32_LEN   5 /* e8 rel32 */

/* The target of the call that the function at off (size bytes) makes at
 * once, "sub $n,%rsp; call f", as a file offset; 0 when it does not. */
static uint64_t wrapped_call(int fd, uint64_t off)
{
	unsigned char b[SUB_RSP_IMM8_LEN + CALL_REL32_LEN];
	int32_t rel;

	if (pread(fd, b, sizeof(b), (off_t)off) != (ssize_t)sizeof(b) || b[0] != 0x48 || b[1] != 0x83 ||
	    b[2] != 0xec || b[4] != 0xe8)
		return 0;
	memcpy(&rel, b + 5, sizeof(rel));
	return off + sizeof(b) + (uint64_t)(int64_t)rel;
}

/* Does the function at off (size bytes) call target? */
static int calls(int fd, uint64_t off, uint64_t size, uint64_t target)
{
	unsigned char b[512];
	int32_t rel;

	if (!off || size < CALL_REL32_LEN || size > sizeof(b) ||
	    pread(fd, b, size, (off_t)off) != (ssize_t)size)
		return 0;
	for (uint64_t i = 0; i + CALL_REL32_LEN <= size; i++) {
		if (b[i] != 0xe8)
			continue;
		memcpy(&rel, b + i + 1, sizeof(rel));
		if (off + i + CALL_REL32_LEN + (uint64_t)(int64_t)rel == target)
			return 1;
	}
	return 0;
}

int libssl_inner(const char *path, struct ssl_lib *s, const uint64_t size[SSL_FN_N])
{
	static const enum ssl_fn pair[][2] = { { SSL_FN_READ_EX, SSL_FN_READ },
					       { SSL_FN_WRITE_EX, SSL_FN_WRITE } };
	int fd = open(path, O_RDONLY | O_CLOEXEC), moved = 0;

	if (fd < 0)
		return 0;
	for (size_t i = 0; i < sizeof(pair) / sizeof(pair[0]); i++) {
		enum ssl_fn ex = pair[i][0], plain = pair[i][1];
		uint64_t target = s->off[ex] ? wrapped_call(fd, s->off[ex]) : 0;

		/* only when the plain one goes through it as well */
		if (!target || !calls(fd, s->off[plain], size[plain], target))
			continue;
		s->off[ex] = target;
		s->inner[ex] = 1;
		s->off[plain] = 0;
		moved++;
	}
	close(fd);
	return moved;
}

/* Is this mapped file one that may hold OpenSSL: a libssl, Python's _ssl
 * module, or the interpreter itself? */
static int ssl_candidate(const char *path, int *is_libssl)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	*is_libssl = strncmp(base, "libssl.so", 9) == 0 || strncmp(base, "libssl-", 7) == 0;
	return *is_libssl || strncmp(base, "_ssl.", 5) == 0 || strncmp(base, "python", 6) == 0;
}

/* The first candidate in pid's maps with the symbols, libssl first. */
int libssl_find(const char *proc_root, pid_t pid, struct ssl_lib *out, char *why, size_t n)
{
	char maps[PATH_MAX], line[PATH_MAX + 128], seen[PATH_MAX] = "";
	uint64_t size[SSL_FN_N];
	int pass, got = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	snprintf(maps, sizeof(maps), "%s/%d/maps", proc_root, (int)pid);
	for (pass = 0; pass < 2 && !got; pass++) {
		f = fopen(maps, "re");
		if (!f) {
			snprintf(why, n, "cannot read %s: %s", maps, strerror(errno));
			return -1;
		}
		while (!got && fgets(line, sizeof(line), f)) {
			unsigned long long ino = 0;
			unsigned maj = 0, min = 0;
			char path[PATH_MAX] = "";
			int is_libssl;

			if (sscanf(line, "%*s %*s %*s %x:%x %llu %4095[^\n]", &maj, &min, &ino, path) != 4 ||
			    path[0] != '/' || !ssl_candidate(path, &is_libssl) || is_libssl != (pass == 0))
				continue;
			if (strcmp(path, seen) == 0)
				continue; /* the next mapping of a file already read */
			snprintf(seen, sizeof(seen), "%s", path);
			snprintf(out->open, sizeof(out->open), "%s/%d/root%s", proc_root, (int)pid, path);
			if (libssl_symbols(out->open, out->off, size) <= 0) {
				if (is_libssl || strncmp(strrchr(path, '/') + 1, "_ssl.", 5) == 0)
					snprintf(why, n, "%s has no SSL_read or SSL_write symbol (stripped)",
						 path);
				continue;
			}
			libssl_inner(out->open, out, size);
			snprintf(out->path, sizeof(out->path), "%s", path);
			out->dev = ((uint64_t)maj << 20) | min; /* the kernel's MKDEV */
			out->ino = ino;
			got = 1;
		}
		fclose(f);
	}
	if (!got && !why[0])
		snprintf(why, n, "no libssl is mapped");
	return got ? 0 : -1;
}
