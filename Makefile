# Concord build. GNU make with wildcard rules: a new module is a new file, nothing to register.
#   make            install missing Debian packages, build everything
#   make test       build, run unit and integration tests, then again under ASan+UBSan,
#                   and the thread-heavy integration tests under ThreadSanitizer
#   make demo       start a demo network node and play the governance scenario
#   make bench-ledger   ledger throughput against the Ed25519 verification bound
#   make bench-sign     signing the root zone, next to ldns-signzone
#   make bench-dns      the DNS server next to NSD and Knot: CPU per query, rates, memory
#   make bench-federation  five nodes: append to served by DNS everywhere, finality, catch-up
SHELL := /bin/bash
BUILD ?= build
CC ?= cc
PKGS := libsodium libcrypto sqlite3 libmicrohttpd jansson libknot libzscanner libcurl
PY := /usr/bin/python3

ifeq ($(SAN),1)
BUILD := build-asan
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
HARDEN :=
SANLD := -fsanitize=address,undefined
else
OPT := -O2 -g
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
SANLD := -pie -Wl,-z,relro,-z,now
endif

# Threads checked: the node's threads (HTTP workers, committer, peers, DNS) under
# ThreadSanitizer, for the integration tests that work them hardest (test-tsan).
ifeq ($(SAN),thread)
BUILD := build-tsan
OPT := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
HARDEN :=
SANLD := -fsanitize=thread
endif

# A test-only build whose sequencer can be told to equivocate (tests/integration: a split view
# must be caught). Never the default build: concordd refuses the switch without it.
ifeq ($(EQUIVOCATE),1)
BUILD := build-equivocate
OPT += -DCONCORD_TEST_EQUIVOCATE
endif

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wno-format-truncation
CFLAGS_ALL = -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(OPT) $(HARDEN) $(WARN) -MMD -MP \
	-Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDFLAGS_ALL = $(SANLD) $(LDFLAGS)

CORE_SRC := $(sort $(wildcard src/core/*.c src/core/kinds/*.c))
DNS_SRC := $(sort $(wildcard src/dns/*.c))
NODE_SRC := $(sort $(wildcard src/node/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
DNS_OBJ := $(DNS_SRC:%.c=$(BUILD)/%.o)
NODE_OBJ := $(NODE_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all build deps test test-unit test-integration test-asan test-tsan demo clean fuzz \
	fuzz-smoke bench-ledger bench-sign bench-dns bench-federation equivocate format

all: deps
	@$(MAKE) --no-print-directory build

deps:
	@./scripts/deps.sh

build: $(BUILD)/concord $(BUILD)/concordd $(TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libconcord.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libdns.a: $(DNS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libnode.a: $(filter-out $(BUILD)/src/node/main.o,$(NODE_OBJ))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/concordd: $(BUILD)/src/node/main.o $(BUILD)/libnode.a $(BUILD)/libdns.a \
		$(BUILD)/libconcord.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(BUILD)/concord: $(CLI_OBJ) $(BUILD)/libnode.a $(BUILD)/libdns.a $(BUILD)/libconcord.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libnode.a $(BUILD)/libdns.a \
		$(BUILD)/libconcord.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS) -lcmocka

test: deps
	@$(MAKE) --no-print-directory test-unit test-integration
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan

test-unit: build
	@set -e; for t in $(TESTS); do echo "== $$t"; CONCORD_VECTORS=tests/vectors \
		CONCORD_DATA=$(CURDIR)/data/root $$t; done

test-integration: build equivocate
	CONCORD_BUILD=$(CURDIR)/$(BUILD) CONCORD_EQUIVOCATE_BUILD=$(CURDIR)/build-equivocate \
		$(PY) -m pytest -q -x tests/integration

equivocate:
	@$(MAKE) --no-print-directory EQUIVOCATE=1 SAN= build-equivocate/concordd

test-asan:
	@$(MAKE) --no-print-directory SAN=1 test-unit test-integration \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1

TSAN_TESTS := test_federation.py test_failover_cli.py test_crash.py test_batch.py \
	test_proposals.py test_verify.py test_log.py
# setarch -R: gcc 12's ThreadSanitizer runtime cannot map its shadow memory under the address
# randomisation of some newer kernels (vm.mmap_rnd_bits=32); without it, it always can. Where
# it is not allowed (a container's seccomp), the tests run as they are.
NORAND = $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)
test-tsan:
	@$(MAKE) --no-print-directory SAN=thread build-tsan/concordd build-tsan/concord
	CONCORD_BUILD=$(CURDIR)/build-tsan TSAN_OPTIONS=second_deadlock_stack=1 \
		$(NORAND) $(PY) -m pytest -q -x $(addprefix tests/integration/,$(TSAN_TESTS))

demo: all
	@./scripts/demo.sh

FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
build-fuzz/%: fuzz/%.c $(CORE_SRC) $(DNS_SRC)
	@mkdir -p build-fuzz
	clang -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-Isrc $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(CORE_SRC) $(DNS_SRC) $(LIBS)
fuzz: deps $(FUZZ_BIN)
fuzz-smoke: fuzz
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build-fuzz/corpus-$$n; \
		echo "== $$n"; $$f -max_total_time=$${FUZZ_SECONDS:-20} -max_len=70000 \
		build-fuzz/corpus-$$n fuzz/corpus/$$n 2>&1 | tail -n 2; done

bench-ledger: all
	@./bench/ledger.sh

bench-sign: all
	@./bench/sign.sh

bench-dns: all
	@./bench/dns.sh

bench-federation: all
	@./bench/federation.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz build-equivocate

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
