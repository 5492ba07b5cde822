#!/usr/bin/python3
"""tls_loop.py - OpenSSL's SSL_write and SSL_read in a loop, in memory.

Two ssl.SSLObject (a client and a server) over ssl.MemoryBIO pairs do a TLS
handshake in memory; then, N times, the client writes SIZE bytes
(SSLObject.write: one SSL_write_ex), the record is moved to the server's
incoming BIO, and the server reads it (SSLObject.read: one SSL_read_ex). No
socket, no syscall in the loop: what it costs is OpenSSL's work and, where
the observer's uprobes are on this process, their hits (an entry and a return
per call).

Used by bench.py in two ways: standalone in a process the observer does not
watch (the "unwatched" TLS figure), and imported by bench/tls_app.py inside a
Gunicorn worker the observer watches (the "watched" figure). Standalone:

    tls_loop.py [--n N] [--reps R] [--size BYTES] [--cert FILE --key FILE]

prints one JSON object: the best (least CPU) repetition's CPU ns per SSL
call and SSL_write calls per second, every repetition's, the calls made
(all repetitions, for program runs per call under bpf_stats), the libssl
file it maps, and which SSL functions hold a breakpoint (int3) in its own
memory at the end. Without
--cert/--key it makes a throw-away self-signed pair (the openssl command).
"""
import argparse
import ctypes
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

SSL_CALLS_PER_ITERATION = 2  # SSL_write_ex (client) + SSL_read_ex (server)


def make_cert(directory):
    """A self-signed P-256 certificate and key in directory (the openssl
    command); returns (certfile, keyfile)."""
    cert, key = os.path.join(directory, "tls-cert.pem"), os.path.join(directory, "tls-key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        if not shutil.which("openssl"):
            raise RuntimeError("the openssl command is needed to make a test certificate (apt-get install openssl)")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "30", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
    return cert, key


class Pair:
    """A client and a server SSLObject joined by memory BIOs, handshaken."""

    def __init__(self, certfile, keyfile):
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(certfile, keyfile)
        sctx.num_tickets = 0  # no TLS 1.3 session tickets left waiting in the client's BIO
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        self.c_in, self.c_out, self.s_in, self.s_out = (ssl.MemoryBIO() for _ in range(4))
        self.client = cctx.wrap_bio(self.c_in, self.c_out, server_side=False)
        self.server = sctx.wrap_bio(self.s_in, self.s_out, server_side=True)
        self._handshake()
        self.version = self.client.version()
        self.cipher = self.client.cipher()[0]

    def _pump(self):
        if self.c_out.pending:
            self.s_in.write(self.c_out.read())
        if self.s_out.pending:
            self.c_in.write(self.s_out.read())

    def _handshake(self):
        done = {self.client: False, self.server: False}
        for _ in range(20):
            for side in (self.client, self.server):
                if not done[side]:
                    try:
                        side.do_handshake()
                        done[side] = True
                    except ssl.SSLWantReadError:
                        pass
                self._pump()
            if all(done.values()):
                return
        raise RuntimeError("in-memory TLS handshake did not finish")

    def loop(self, n, size=64):
        """n iterations of client.write (SSL_write_ex) + server.read
        (SSL_read_ex). Returns (thread CPU ns, wall ns)."""
        payload = b"x" * size
        write, read = self.client.write, self.server.read
        c_out, s_in = self.c_out, self.s_in
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        for _ in range(n):
            write(payload)
            s_in.write(c_out.read())
            if len(read(size)) != size:
                raise RuntimeError("short SSL read")
        return time.thread_time_ns() - c0, time.perf_counter_ns() - w0

    def close(self):
        self.client = self.server = None  # SSL_free


def mapped_libssl():
    """The libssl this process maps, "path dev inode" from /proc/self/maps
    (the file the observer's uprobes are on), or None."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "/libssl" in parts[5]:
                return "%s %s %s" % (os.path.realpath(parts[5]), parts[3], parts[4])
    return None


PROBED = ("SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex", "SSL_free", "SSL_do_handshake")


def breakpoints():
    """The SSL functions whose first instruction byte, as this process sees
    its own memory, is int3 (0xcc): where a uprobe is on this process (the
    kernel writes the breakpoint only into the processes a probe is bound
    to). x86 only; [] elsewhere or when libssl cannot be opened."""
    if os.uname().machine not in ("x86_64", "i686", "i386"):
        return []
    try:
        lib = ctypes.CDLL("libssl.so.3")  # the mapping _ssl already holds
    except OSError:
        try:
            lib = ctypes.CDLL("libssl.so.1.1")
        except OSError:
            return []
    out = []
    for name in PROBED:
        fn = getattr(lib, name, None)
        if fn is not None and ctypes.string_at(ctypes.cast(fn, ctypes.c_void_p).value, 1) == b"\xcc":
            out.append(name)
    return out


def run(certfile, keyfile, n=20000, reps=1, size=64):
    """reps repetitions of n iterations on one handshaken pair (after a
    short warm-up); the best is the one with the least CPU per call."""
    pair = Pair(certfile, keyfile)
    pair.loop(min(n, 1000), size)  # warm-up: code paths, caches
    res = []
    for _ in range(reps if n > 0 else 0):
        cpu, wall = pair.loop(n, size)
        calls = n * SSL_CALLS_PER_ITERATION
        res.append({"cpu_ns_per_call": cpu / calls, "wall_ns_per_call": wall / calls,
                    "writes_per_s": n / (wall / 1e9), "cpu_writes_per_s": n / (cpu / 1e9)})
    # n or reps 0: the handshake alone (what a request costs without the loop)
    out = dict(min(res, key=lambda r: r["cpu_ns_per_call"])) if res else {}
    out.update(n=n, reps=reps, size=size, calls=(reps * n + min(n, 1000)) * SSL_CALLS_PER_ITERATION,
               calls_per_iteration=SSL_CALLS_PER_ITERATION, all=res, pid=os.getpid(),
               tls=pair.version, cipher=pair.cipher, openssl=ssl.OPENSSL_VERSION, libssl=mapped_libssl())
    out["int3"] = breakpoints()  # while the loop's probes, if any, are still on
    pair.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200000, help="iterations (one SSL_write_ex + one SSL_read_ex each)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions; the least CPU per call is reported")
    ap.add_argument("--size", type=int, default=64, help="bytes written and read per iteration")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    tmp = None
    if not (args.cert and args.key):
        tmp = tempfile.mkdtemp(prefix="tls-loop.")
        args.cert, args.key = make_cert(tmp)
    try:
        print(json.dumps(run(args.cert, args.key, args.n, args.reps, args.size)), flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
