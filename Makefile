# psgpipe -- GNU make.  A stage is stages/psg-<verb>.c plus its .1 man page,
# a driver scripts/psg-<verb> plus its .1; all are found by wildcard, so
# adding one needs no edit here.
#
#   make              build the library and every stage into $(B)/
#   make check        build and run the whole test suite
#   make check SAN=1  the same, built with AddressSanitizer + UBSan
#   make check-valgrind  the same, every program under valgrind (slow)
#   make bench        benchmarks (slow; numbers go to docs/performance.md)
#   make validate     cross-validated N3, wake and five-stage figures on ../shared
#   make demo         the README's main job on a generated and a real night
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
DESTDIR ?=
SAN ?=

PKGS := fftw3 fftw3f hdf5 sndfile
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

CC ?= cc
FUZZ_CC ?= clang
CSTD := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
OPT ?= -O2 -g
ifeq ($(SAN),1)
B := build-san
OPT := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
else
B := build
SANFLAGS :=
endif

CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -Iinclude -Ipipeline \
	$(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(SANFLAGS) $(LDFLAGS) $(PKG_LIBS) -ledf -lpthread -lm $(LDLIBS)

LIB_SRC := $(wildcard pipeline/*.c)
LIB_OBJ := $(LIB_SRC:pipeline/%.c=$(B)/obj/%.o)
STAGE_SRC := $(wildcard stages/psg-*.c)
STAGES := $(STAGE_SRC:stages/%.c=$(B)/bin/%)
SCRIPTS := $(filter-out %.1,$(wildcard scripts/psg-*))
SCRIPT_BINS := $(SCRIPTS:scripts/%=$(B)/bin/%)
MANS := $(wildcard stages/psg-*.1 scripts/psg-*.1)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TESTS := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)
PRELOAD_SRC := $(wildcard tests/tools/preload/*.c)
PRELOADS := $(PRELOAD_SRC:tests/tools/preload/%.c=$(B)/tools/%.so)
HDRS := include/psg.h $(wildcard pipeline/*.h stages/*.h tests/unit/*.h)

.PHONY: all check check-valgrind bench validate validate-spindles demo install clean \
	fuzz fuzz-build
all: $(B)/libpsg.a $(STAGES) $(SCRIPT_BINS)

# Drivers (psg-night, psg-batch) sit beside the stages they call.
$(SCRIPT_BINS): $(B)/bin/%: scripts/%
	@mkdir -p $(@D)
	cp $< $@ && chmod 755 $@

# -fno-semantic-interposition: libpsg is linked statically, so nothing
# replaces its functions at run time, and GCC may inline them within a
# file (with -fPIC alone it would not: psg_muscle_push called
# psg_muscle_rest 8.6 M times a night; psg-emg's detectors' thread is 3 %
# faster).
$(B)/obj/%.o: pipeline/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -fno-semantic-interposition -c $< -o $@

$(B)/libpsg.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/bin/%: stages/%.c $(B)/libpsg.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< $(B)/libpsg.a $(LDLIBS_ALL) -o $@

# psg-chain runs stream stages as threads of one process (stages/psg-chain.c):
# each is linked in from its own source, main renamed, its entry chain_VERB.
CHAIN_STAGES := read filter wake sws spindle stage emg h5 dump
CHAIN_OBJ := $(CHAIN_STAGES:%=$(B)/chain/psg-%.o)

$(B)/chain/psg-%.o: stages/psg-%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DPSG_CHAIN=chain_$* -Dmain=chain_main_$* -c $< -o $@

$(B)/bin/psg-chain: stages/psg-chain.c $(CHAIN_OBJ) $(B)/libpsg.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< $(CHAIN_OBJ) $(B)/libpsg.a $(LDLIBS_ALL) -o $@

$(B)/tests/%: tests/unit/%.c $(B)/libpsg.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< $(B)/libpsg.a $(LDLIBS_ALL) -o $@

$(B)/tools/%: tests/tools/%.c $(B)/libpsg.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< $(B)/libpsg.a $(LDLIBS_ALL) -o $@

# Test libraries loaded with LD_PRELOAD: never sanitized (ASan must come
# first in a sanitized program; the test tells it not to check).
$(B)/tools/%.so: tests/tools/preload/%.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) $(PKG_CFLAGS) $(CFLAGS) -fPIC -shared $< \
		-ldl -o $@

# The fuzzing smoke (tests/t_fuzz.sh) needs clang's libFuzzer.
HAVE_FUZZ_CC := $(shell command -v $(FUZZ_CC) 2>/dev/null)
check: all $(TESTS) $(TOOLS) $(PRELOADS) $(if $(HAVE_FUZZ_CC),fuzz-build)
	PSG_BUILD=$(B) sh tests/run.sh

check-valgrind: all $(TESTS) $(TOOLS) $(PRELOADS)
	PSG_BUILD=$(B) sh tests/valgrind.sh

bench: all $(TOOLS)
	PSG_BUILD=$(B) sh tests/bench.sh

# Leave-one-recording-out cross-validation on the real scored recordings in
# ../shared (docs/validation.md): psg-sws (N3), psg-wake (W) and psg-stage
# (the five stages), then psg-spindle against the DREAMS experts.
validate: all
	PSG_BUILD=$(B) python3 tests/validate.py
	PSG_BUILD=$(B) sh tests/validate_spindles.sh

validate-spindles: all
	PSG_BUILD=$(B) sh tests/validate_spindles.sh

# Quiet: the demo is for reading what psgpipe finds, not compiler lines.
demo:
	@$(MAKE) -s --no-print-directory all
	@PSG_BUILD=$(B) sh scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(STAGES) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/libpsg.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/psg.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/

# Fuzzing (tests/fuzz, docs/reliability.md): libFuzzer harnesses built
# with clang, ASan and UBSan into build-fuzz/; each runs FUZZ_SECONDS on
# one core from the seeds, new inputs in build-fuzz/corpus/NAME, findings
# in build-fuzz/findings/.  make check runs a short smoke of them when
# clang is installed (tests/t_fuzz.sh).  make fuzz then runs
# tests/fuzz/mutate.py (mutated files through the stage programs, the
# ASan/UBSan build) for MUTATE_SECONDS (default FUZZ_SECONDS; 0: not at
# all) per target: findings in
# build-fuzz/mutate/findings/; its smoke is tests/t_mutate.sh.
FUZZ_SECONDS ?= 60
MUTATE_SECONDS ?= $(FUZZ_SECONDS)
FB := build-fuzz
FUZZ_KINDS := stream:1 edf_native:2 edf_edflib:3 edf_auto:4 hypnogram:5 \
	events:6
FUZZ_BINS := $(foreach k,$(FUZZ_KINDS),$(FB)/fuzz_$(word 1,$(subst :, ,$(k))))
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(LIB_SRC:pipeline/%.c=$(FB)/obj/%.o)

$(FB)/obj/%.o: pipeline/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CSTD) $(WARN) $(FUZZ_FLAGS) \
		-Iinclude -Ipipeline $(PKG_CFLAGS) -c $< -o $@

$(FB)/fuzz_%: tests/fuzz/fuzz_read.c $(FUZZ_OBJ) $(HDRS)
	$(FUZZ_CC) $(CSTD) $(WARN) $(FUZZ_FLAGS) -Iinclude -DFUZZ_KIND=$(word \
		2,$(subst :, ,$(filter $*:%,$(FUZZ_KINDS)))) $< $(FUZZ_OBJ) \
		$(PKG_LIBS) -ledf -lpthread -lm -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FB=$(FB) sh tests/fuzz/run.sh; r=$$?; \
	[ "$(MUTATE_SECONDS)" = 0 ] || { $(MAKE) SAN=1 all && nice -n 19 \
		python3 tests/fuzz/mutate.py --build build-san --out $(FB)/mutate \
		--seconds $(MUTATE_SECONDS); } && exit $$r

clean:
	rm -rf build build-san build-fuzz
