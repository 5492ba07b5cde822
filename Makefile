# gunicorn-observer build. `make` builds build/gunicorn-observer; `make run`
# and `make test` install what is missing first (see `make deps`).

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
ARCH       := $(shell uname -m)
BPF_ARCH   := $(subst x86_64,x86,$(subst aarch64,arm64,$(ARCH)))
CLANG      ?= clang
BPFTOOL    ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC         ?= gcc
BUILD      := build
LISTEN     ?= 0.0.0.0:9093

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuserspace -I$(BUILD) \
              -DGO_VERSION='"$(VERSION)"'
LDLIBS     := -lbpf -lelf -lz -lmicrohttpd -lyaml -lhiredis -lcrypto -pthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
              -Ivmlinux/$(ARCH) -Iinclude

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
USER_SRCS  := $(wildcard userspace/*.c)
USER_OBJS  := $(patsubst userspace/%.c,$(BUILD)/%.o,$(USER_SRCS))
LIB_OBJS   := $(filter-out $(BUILD)/main.o,$(USER_OBJS))
HEADERS    := $(wildcard include/*.h userspace/*.h)
TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

# Debian/Ubuntu packages: to build, and to run the tests.
BUILD_DEPS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
              libmicrohttpd-dev libyaml-dev pkg-config git libhiredis-dev libssl-dev
TEST_DEPS  := libcmocka-dev gunicorn python3-flask python3-gevent python3-eventlet \
              wrk prometheus curl redis-server python3-redis python3-prometheus-client \
              iproute2 procps clang-format

.PHONY: all deps deps-test run test unit integration check format clean

all: $(BUILD)/gunicorn-observer

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(HEADERS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/observer.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/observer.skel.h: $(BUILD)/observer.bpf.o
	$(BPFTOOL) gen skeleton $< name observer_bpf > $@

$(BUILD)/%.o: userspace/%.c $(HEADERS) $(BUILD)/observer.skel.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gunicorn-observer: $(USER_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB_OBJS) $(HEADERS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

$(BUILD) $(BUILD)/bpf $(BUILD)/tests:
	mkdir -p $@

# Installs with apt whatever of BUILD_DEPS is missing; does nothing when all
# is present. Also mounts tracefs when it is not.
deps:
	@sh tests/deps.sh $(BUILD_DEPS)

deps-test: deps
	@sh tests/deps.sh $(TEST_DEPS)

run: deps all
	$(BUILD)/gunicorn-observer --listen $(LISTEN)

unit: $(TEST_BINS)

# Unit tests, then the integration suite against real Gunicorn and
# Prometheus tooling; ends with "N passed, N failed".
test: deps-test all unit check
	@bash tests/run.sh $(TEST_BINS)

check:
	clang-format --dry-run --Werror bpf/*.c bpf/*.h include/*.h userspace/*.c userspace/*.h tests/*.c

format:
	clang-format -i bpf/*.c bpf/*.h include/*.h userspace/*.c userspace/*.h tests/*.c

clean:
	rm -rf $(BUILD)
