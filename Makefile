# Rookery top-level Makefile.
#
#   make            build everything into build/ (programs in build/bin/)
#   make run        install what is missing, build, start the demo platform
#   make test       install what is missing, build, run every test
#   make bench      run the benchmarks against peer servers (bench/RESULTS.md)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make deps       install the Debian packages the build and tests need
#   make clean
#
# Sources are found by wildcard: every folder builds a static library of its
# .c files except main.c; a folder with a main.c also builds a program.
# Tests are found the same way: tests/unit/test_*.c (cmocka),
# tests/fuzz/fuzz_*.c (libFuzzer), tests/integration/test_*.py (pytest).

CC       ?= cc
SAN      ?=
BUILD    ?= build
PYTHON   ?= /usr/bin/python3
FUZZ_SECONDS ?= 15
TEST_FUZZ_SECONDS ?= 5
# Build with every core unless the caller chose (make -jN).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif

ifeq ($(SAN),1)
BUILD    := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=undefined
endif

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	    -Wpointer-arith -Wsign-compare
CPPFLAGS += -D_GNU_SOURCE -I. -Ilib
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 $(WARN) -Werror -MMD -MP $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
SYSLIBS  := -levent_openssl -levent -lssl -lcrypto -lsasl2 -ldb -lldap -llber \
	    -lz -lpthread -lm

# Folders in link order (a folder may use lib/ and what its DESIGN.md row says).
MODULES  := store replica sieve mux ldapab tools lib
PROGRAMS := store:rookery-store mux:rookery-mux ldapab:rookery-ldapab \
	    tools:rookery

srcs_of   = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
objs_of   = $(patsubst %.c,$(BUILD)/obj/%.o,$(call srcs_of,$(1)))
lib_of    = $(BUILD)/lib/lib$(if $(filter lib,$(1)),rookery,$(1)).a
ALL_LIBS  := $(foreach m,$(MODULES),$(call lib_of,$(m)))
LINK_LIBS := -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(SYSLIBS)

prog_dir  = $(word 1,$(subst :, ,$(1)))
prog_name = $(word 2,$(subst :, ,$(1)))
BUILT_PROGRAMS := $(foreach p,$(PROGRAMS),$(if $(wildcard $(call prog_dir,$(p))/main.c),$(BUILD)/bin/$(call prog_name,$(p))))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps run test unit integration fuzz fuzz-build bench bench-build \
	clean check-unit
.DEFAULT_GOAL := all

all: $(BUILT_PROGRAMS)

define module_rules
$(call lib_of,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(AR) rcs $$@ $$^ $$(if $$^,,$(BUILD)/obj/empty.o)
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

# An archive may be empty (a folder not written yet).
$(BUILD)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'extern int rookery_empty_unit; int rookery_empty_unit;' | \
		$(CC) -x c -c -o $@ -
$(foreach m,$(MODULES),$(if $(call srcs_of,$(m)),,$(eval $(call lib_of,$(m)): $(BUILD)/obj/empty.o)))

define program_rule
$(BUILD)/bin/$(call prog_name,$(1)): $(BUILD)/obj/$(call prog_dir,$(1))/main.o $(ALL_LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(LINK_LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) -lcmocka

-include $(shell find $(BUILD)/obj build/fuzz/obj -name '*.d' 2>/dev/null)

deps:
	@sh scripts/deps.sh

# --- run ------------------------------------------------------------------
run: deps all
	$(BUILD)/bin/rookery run

# --- tests ------------------------------------------------------------------
# Unit tests run on the optimised build and under ASan+UBSan; integration
# tests drive the ASan+UBSan daemons; the short fuzz runs come before the
# pytest summary, which is the last line make test prints.
test: deps all
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory SAN=1 all check-unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	@$(MAKE) --no-print-directory SAN=1 integration

unit: all check-unit
check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: all
	ROOKERY_BIN=$(CURDIR)/$(BUILD)/bin \
	ROOKERY_FAST_BIN=$(if $(wildcard build/bin/rookery),$(CURDIR)/build/bin) \
		$(PYTHON) -m pytest -q -p no:cacheprovider --durations=15 \
		tests/integration

# --- fuzzing ------------------------------------------------------------------
FUZZ_CC    := clang
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c17 -g -O1 -D_GNU_SOURCE -I. -Ilib -MMD -MP \
	-fsanitize=fuzzer-no-link,address,undefined -Wall -Wno-unused-parameter
FUZZ_SRCS  := $(foreach m,$(MODULES),$(call srcs_of,$(m)))
FUZZ_OBJS  := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_BUILD)/librookery-fuzz.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/librookery-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_BUILD)/librookery-fuzz.a $(SYSLIBS)

fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_TARGETS); do \
		n=$$(basename $$f); c=tests/fuzz/corpus/$${n#fuzz_}; \
		w=$(FUZZ_BUILD)/work/$$n; rm -rf $$w; mkdir -p $$w; \
		[ -d $$c ] && cp -r $$c/. $$w/ 2>/dev/null || true; \
		echo "== $$n ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
			-timeout=10 -print_final_stats=0 \
			-artifact_prefix=$$w.crash- $$w > $$w.log 2>&1 \
			|| { tail -60 $$w.log; ls $$w.crash-*; exit 1; }; \
		grep -E '^#[0-9]+.*DONE' $$w.log | tail -1; \
	done

# --- benchmarks ---------------------------------------------------------------
BENCH_TOOLS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lpthread

bench-build: $(BENCH_TOOLS)
bench: all bench-build
	@sh scripts/deps.sh bench
	sh bench/run.sh

clean:
	rm -rf build
