# windcast - build, test, demo, bench.
#
#   make            optimised build of ./windcast
#   make test       install deps, build with ASan+UBSan, run every test
#   make demo       install deps, build, generate demo data, ingest, train, serve
#   make bench      benchmarks under tests/bench/ (prints name=value figures)
#   make loadtest   scripts/loadtest: held replies under wrk against a bare server
#   make install PREFIX=/usr/local   binary, systemd units, docs (DESTDIR respected)
#   make clean
#
# Sources are found by wildcard: adding a .c under common/ data/ forecast/ trading/
# server/ cli/ needs no Makefile change; a new test file under tests/unit/ joins the test
# binary.

PREFIX ?= /usr/local
CC ?= cc
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3

PKGS := libmicrohttpd jansson netcdf sqlite3 openblas libcrypto zlib
TEST_PKGS := criterion libcurl

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wformat=2 -Wvla -Wno-format-truncation
# (truncation is wanted: error messages and labels are cut to their fixed buffers)
ifeq ($(CI),true)
WARN += -Werror
endif

BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -MMD -MP $(WARN)
DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEPS_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

REL_CFLAGS := -O2 -g -march=x86-64-v2 -fno-math-errno
SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow \
	-fno-sanitize-recover=undefined,float-cast-overflow
SAN_LDFLAGS := -fsanitize=address,undefined,float-cast-overflow

LIB_SRC := $(sort $(wildcard common/*.c data/*.c forecast/*.c backtest/*.c trading/*.c server/*.c) \
	$(filter-out cli/main.c,$(wildcard cli/*.c)))
MAIN_SRC := cli/main.c
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))

REL := build/rel
SAN := build/san

REL_OBJ := $(LIB_SRC:%.c=$(REL)/%.o)
SAN_OBJ := $(LIB_SRC:%.c=$(SAN)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(SAN)/%.o)

.PHONY: all test demo bench loadtest install clean deps check-deps fuzz
.DEFAULT_GOAL := all

all: windcast

deps:
	@scripts/install-deps

windcast: $(REL)/windcast
	@cp $< $@

$(REL)/windcast: $(REL)/cli/main.o $(REL)/libwindcast.a
	$(CC) -o $@ $^ $(DEPS_LIBS)

$(REL)/libwindcast.a: $(REL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(REL)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -c -o $@ $<

$(SAN)/windcast: $(SAN)/cli/main.o $(SAN)/libwindcast.a
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

$(SAN)/libwindcast.a: $(SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SAN)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $(DEPS_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c -o $@ $<

$(SAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -c -o $@ $<

$(SAN)/windcast-tests: $(TEST_OBJ) $(SAN)/libwindcast.a
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(DEPS_LIBS) $(TEST_LIBS)

# The test binary finds the CLI under test and the shared data through the environment.
TEST_ENV := WINDCAST_BIN=$(CURDIR)/$(SAN)/windcast WINDCAST_SRC=$(CURDIR) \
	WINDCAST_SHARED=$(CURDIR)/../shared PYTHON=$(PYTHON) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 OPENBLAS_NUM_THREADS=1

test: deps
	@$(MAKE) --no-print-directory $(SAN)/windcast $(SAN)/windcast-tests
	$(TEST_ENV) scripts/run-tests $(SAN)/windcast-tests --jobs 2 --timeout 600
	@$(MAKE) --no-print-directory fuzz
	@cat build/test.summary

# libFuzzer harnesses (tests/fuzz/*.c), when clang is available: each links the library
# built by clang with coverage and sanitizers, and runs FUZZ_SECONDS, two at a time
# (scripts/run-fuzz; docs/robustness.md has the longer runs).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 40
FUZZ := build/fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ)/obj/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ)/%)

$(FUZZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -MMD -MP $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPS_CFLAGS) -c -o $@ $<

$(FUZZ)/libwindcast.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ)/libwindcast.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEPS_CFLAGS) -o $@ $< \
		$(FUZZ)/libwindcast.a $(DEPS_LIBS)

fuzz:
	@if [ -z "$(FUZZ_SRC)" ]; then exit 0; fi; \
	if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
		echo "fuzz: $(FUZZ_CC) not found, skipping libFuzzer harnesses"; exit 0; fi; \
	$(MAKE) --no-print-directory $(FUZZ_BIN) && \
	scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(REL)/bench/%)
$(REL)/bench/%: tests/bench/%.c $(REL)/libwindcast.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -o $@ $< \
		$(REL)/libwindcast.a $(DEPS_LIBS)

bench:
	@scripts/install-deps --bench
	@$(MAKE) --no-print-directory windcast $(BENCH_BIN)
	@scripts/run-bench $(BENCH_BIN)

loadtest:
	@scripts/install-deps --bench
	@$(MAKE) --no-print-directory windcast
	@scripts/loadtest

demo: deps
	@$(MAKE) --no-print-directory windcast
	@scripts/demo

# The binary, the systemd units (with their paths filled in) and the docs, under
# DESTDIR/PREFIX. INSTALL_BIN installs another build (the tests install the sanitizer one).
INSTALL_BIN ?= windcast
SYSTEMD_UNITS := $(wildcard scripts/systemd/*.service scripts/systemd/*.timer)
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/windcast

install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/windcast
	for u in $(SYSTEMD_UNITS); do \
		sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@DOCDIR@|$(DOCDIR)|g' $$u \
			> $(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build windcast

-include $(REL_OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
