# gunicorn-observer build. `make` builds build/gunicorn-observer; `make run`
# and `make test` install what is missing first (see `make deps`).

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
ARCH       := $(shell uname -m)
BPF_ARCH   := $(subst x86_64,x86,$(subst aarch64,arm64,$(ARCH)))
CLANG      ?= clang
BPFTOOL    ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC         ?= gcc
BUILD      ?= build
LISTEN     ?= 0.0.0.0:9093

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuserspace -I$(BUILD) \
              -DOBS_VERSION='"$(VERSION)"'
LDLIBS     := -lbpf -lelf -lz -lmicrohttpd -lyaml -lhiredis -lcrypto -lcrypt -lcap -pthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
              -Ivmlinux/$(ARCH) -Iinclude

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
# userspace/ has one folder a stage of the data flow (see README, "How it works")
USER_DIRS  := lib config kernel host model render redis
USER_SRCS  := $(wildcard userspace/*.c $(patsubst %,userspace/%/*.c,$(USER_DIRS)))
USER_OBJS  := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(USER_SRCS))
LIB_OBJS   := $(filter-out $(BUILD)/obj/main.o,$(USER_OBJS))
HEADERS    := $(wildcard include/*.h userspace/*.h $(patsubst %,userspace/%/*.h,$(USER_DIRS)) tests/*.h)
# the old renderer and Redis reader that tests/test_same_as_before.c holds the new ones to
ORACLE     := $(wildcard tests/oracle/*.[ch])
C_FILES    := bpf/*.c bpf/*.h include/*.h userspace/*.c $(patsubst %,userspace/%/*.[ch],$(USER_DIRS)) \
              tests/*.c tests/*.h tests/oracle/*.[ch]
TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

# Debian/Ubuntu packages: to build, and to run the tests.
BUILD_DEPS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
              libmicrohttpd-dev libyaml-dev pkg-config git libhiredis-dev libssl-dev \
              libcap-dev libcrypt-dev
TEST_DEPS  := libcmocka-dev gunicorn python3-flask python3-gevent python3-eventlet \
              wrk prometheus curl redis-server python3-redis python3-prometheus-client \
              iproute2 procps clang-format openssl libcap2-bin nginx apache2-utils

.PHONY: all deps deps-test run test unit integration check format clean

all: $(BUILD)/gunicorn-observer

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(HEADERS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/observer.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/observer.skel.h: $(BUILD)/observer.bpf.o
	$(BPFTOOL) gen skeleton $< name observer_bpf > $@

$(BUILD)/obj/%.o: userspace/%.c $(HEADERS) $(BUILD)/observer.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gunicorn-observer: $(USER_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB_OBJS) $(HEADERS) $(ORACLE) | $(BUILD)/tests
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
	clang-format --dry-run --Werror $(C_FILES)
	@bash tests/check_layout.sh

format:
	clang-format -i $(C_FILES)

clean:
	rm -rf $(BUILD)

# Container image gunicorn-observer:$(VERSION) and :latest from the Dockerfile.
# Starts dockerd when no engine answers; when no registry answers, builds the
# Debian base images with debootstrap (cached under build/docker-base/).
IMAGE_SOURCE ?= $(shell git config --get remote.origin.url 2>/dev/null)

image:
	@bash e2e/docker/image.sh "$(VERSION)" "$(IMAGE_SOURCE)"

# The end-to-end suite, ending with "N passed, N failed": static checks of
# deploy/kubernetes, the image run as the DaemonSet runs it against Gunicorn
# in a second container, and the kind cluster test (it skips, in one line,
# where kind is missing). E2E_ARGS=--quick is faster.
E2E_SCRIPTS := e2e/kubernetes/test_manifests.sh e2e/docker/test_daemonset_in_docker.sh \
               e2e/kubernetes/test_daemonset.sh

e2e:
	@sh tests/deps.sh python3-yaml shellcheck
	@SCRIPTS="$(E2E_SCRIPTS)" INTEGRATION_ARGS="$(E2E_ARGS)" bash tests/run.sh

.PHONY: image e2e

# The kernel matrix (about 45 min on TCG, see README): boots Debian's own
# kernels under qemu (vm/run.sh), runs the integration core on every data
# plane each offers, and each plane's bystander figure; one table, ending
# with "N passed, N failed". MATRIX_ARGS: e.g. --kernels 6.1 --quick.
kernel-matrix: deps-test all
	@bash vm/matrix.sh $(if $(filter true,$(CI)),--ci) $(MATRIX_ARGS)

.PHONY: kernel-matrix

# The benchmark behind BENCHMARKS.md (~23 min): Gunicorn under wrk without the
# observer, with it, with prometheus_client and with statsd, alternated; then
# scrape cost at 8 to 1000 workers, the host's fixed BPF costs, and memory
# (counters per-CPU vs shared, kernel memory in guests of 2/64/192 vCPUs,
# a full node of 1256 workers). Prints the
# tables; rewrites BENCHMARKS.md (bench/preamble.md + the results) and
# bench/results.{md,json,png}. It refuses to run beside another observer
# (BENCH_ARGS=--allow-others measures anyway, flagged). BENCH_ARGS=--quick
# for a short run (results in a temporary directory); --profile (needs perf) profiles;
# BENCH_ARGS=--against=OTHER_BINARY scrapes beside another build (e.g. the previous release).
BENCH_DEPS := wrk gnuplot-nox gunicorn python3-prometheus-client bpftool procps util-linux clang gcc curl openssl \
              libc6-dev libbpf-dev

bench: deps all
	@sh tests/deps.sh $(BENCH_DEPS)
	GOBENCH_MAKE=1 BENCH_ARGS='$(BENCH_ARGS)' /usr/bin/python3 bench/bench.py \
		--observer $(BUILD)/gunicorn-observer $(BENCH_ARGS)

.PHONY: bench

# Fuzz targets (clang libFuzzer, ASan, UBSan) for the parsers: fuzz/fuzz_<t>.c
# linked with the userspace sources it reaches, built in $(BUILD)/fuzz.
# `make fuzz` runs each for FUZZ_SECS (default 60) from fuzz/corpus/<t>/ and
# fails on a crash, printing the reproducer; `make fuzz-replay` runs each
# over its corpus once (part of `make test`), ending in "N passed, N failed".
FUZZ_CC      ?= clang
FUZZ_SECS    ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuserspace -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := http_parse http_frame config_yaml procfs gconf k8s text_escape records
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_KNOWN   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
# checked only for the goals that build them (the image's context has no fuzz/)
ifneq ($(filter fuzz fuzz-build fuzz-replay test,$(MAKECMDGOALS)),)
ifneq ($(filter-out $(FUZZ_KNOWN),$(FUZZ_TARGETS)),)
$(error FUZZ_TARGETS: no fuzz/fuzz_$(firstword $(filter-out $(FUZZ_KNOWN),$(FUZZ_TARGETS))).c; choose from: $(FUZZ_KNOWN))
endif
endif
FUZZ_DEPS    := clang libclang-rt-$(shell $(FUZZ_CC) -dumpversion 2>/dev/null | cut -d. -f1)-dev

FUZZ_SRCS_http_parse  :=
FUZZ_SRCS_http_frame  :=
FUZZ_SRCS_config_yaml := $(filter-out userspace/config/cli.c,$(wildcard userspace/config/*.c)) userspace/lib/log.c \
                         userspace/lib/procfs.c
FUZZ_LIBS_config_yaml := -lyaml
FUZZ_SRCS_procfs      := userspace/lib/procfs.c
FUZZ_SRCS_gconf       := userspace/host/gconf.c userspace/host/gargs.c userspace/lib/procfs.c
FUZZ_SRCS_k8s         := userspace/host/k8s.c userspace/lib/procfs.c
# the series model and what it links: the map names (kread.c, maps.c) need libbpf
FUZZ_SERIES           := userspace/model/series.c userspace/model/snapshot.c userspace/model/lifecycle.c \
                         userspace/lib/codes.c userspace/lib/strbuf.c userspace/lib/promtext.c \
                         userspace/kernel/kread.c userspace/kernel/maps.c
FUZZ_SRCS_text_escape := userspace/render/text.c userspace/redis/records.c userspace/redis/json.c $(FUZZ_SERIES)
FUZZ_LIBS_text_escape := -lcrypto -lbpf
FUZZ_SRCS_records     := userspace/redis/records.c userspace/redis/json.c $(FUZZ_SERIES)
FUZZ_LIBS_records     := -lcrypto -lbpf

define FUZZ_RULE
$(FUZZ_DIR)/fuzz_$(1): fuzz/fuzz_$(1).c $(wildcard fuzz/*.h) $(FUZZ_SRCS_$(1)) $(HEADERS) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $$< $(FUZZ_SRCS_$(1)) $(FUZZ_LIBS_$(1)) -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

$(FUZZ_DIR):
	mkdir -p $@

fuzz-deps:
	@sh tests/deps.sh $(FUZZ_DEPS)

fuzz-build: fuzz-deps $(FUZZ_BINS)

fuzz: fuzz-build
	@bash fuzz/run.sh fuzz $(FUZZ_DIR) $(FUZZ_SECS) $(FUZZ_TARGETS)

fuzz-replay: fuzz-build
	@bash fuzz/run.sh replay $(FUZZ_DIR) 0 $(FUZZ_TARGETS)

# `make test` replays every corpus too (tests/run.sh counts it).
test: fuzz-build
test: export FUZZ_BINDIR := $(FUZZ_DIR)
test: export FUZZ_REPLAY_TARGETS := $(FUZZ_TARGETS)

check: check-fuzz
check-fuzz:
	clang-format --dry-run --Werror fuzz/*.c fuzz/*.h

.PHONY: fuzz fuzz-build fuzz-deps fuzz-replay check-fuzz
