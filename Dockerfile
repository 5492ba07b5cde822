# Container image of gunicorn-observer: built in Debian bookworm, run from
# bookworm-slim with only the binary and the shared libraries it links.
# `make image` builds it (and, offline, the Debian base images first); run it
# as e2e/docker/test_daemonset_in_docker.sh does: host PID namespace, host
# network, the kernel's BTF, tracefs and bpffs mounted, and the capabilities
# listed in README ("Run with Docker").

FROM debian:bookworm AS build
# The same list as BUILD_DEPS in the Makefile (the e2e test checks they agree).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
        libmicrohttpd-dev libyaml-dev pkg-config git libhiredis-dev libssl-dev \
        libcap-dev libcrypt-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG VERSION=0.1.0
RUN make VERSION="$VERSION" && strip build/gunicorn-observer

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libmicrohttpd12 libyaml-0-2 libhiredis0.14 libssl3 libcap2 libcrypt1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/gunicorn-observer /usr/local/bin/gunicorn-observer
ARG VERSION=0.1.0
ARG SOURCE=""
LABEL org.opencontainers.image.title="gunicorn-observer" \
      org.opencontainers.image.description="eBPF Prometheus exporter for Gunicorn: per-worker request, status, latency, size and lifecycle metrics with no change to the app" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.licenses="GPL-2.0"
EXPOSE 9093
ENTRYPOINT ["/usr/local/bin/gunicorn-observer"]
