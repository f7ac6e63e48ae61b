# tdi: one Makefile. Objects in build/, binaries in bin/ (make asan: build-asan/, bin-asan/).
# Library code: every .c under common/, tools/*/, generator/, cosim/ except *_main.c.
# Programs: <dir>/<name>_main.c -> bin/<name with _ as -> (tools/unet/tdi_unet_main.c -> bin/tdi-unet).
# Tests: tests/test_*.c -> bin/test_*; tests/run.sh runs them and prints "N passed, N failed".

# jansson: every JSON file tdi writes (common/tdi_json.h) and the tests that read them back.
PKGS      := gsl yaml-0.1 zlib libpng ngspice jansson
# OpenBLAS built on OpenMP: the U-Net's own OpenMP loops and the GEMMs then share one thread
# pool (the pthread build's threads busy-yield against OpenMP's: a quarter of the CPU time went
# to sched_yield and the kernel in a profile on 2 cores).
OPENBLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
OPENBLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp
DEB_PKGS  := build-essential pkg-config ngspice libngspice0-dev libgsl-dev libopenblas-dev \
             libopenblas-openmp-dev \
             libyaml-dev zlib1g-dev libpng-dev dataset-fashion-mnist librandom123-dev \
             openmpi-bin libopenmpi-dev gnuplot-nox python3-numpy bc libjansson-dev
CC        ?= cc
WARN      := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(CI),true)
WARN      += -Werror
endif
CFLAGS    ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS) 2>/dev/null))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fopenmp -MMD -MP \
             -Icommon -Itools/unet -Itools/substrate -Itools/sweep -Igenerator -Icosim \
             -I$(OPENBLAS_INC) $(PKG_CFLAGS)
# --no-as-needed: every program loads OpenBLAS before GSL, so GSL's CBLAS calls resolve to it even
# in programs that call no BLAS function themselves (else GSL's reference CBLAS: ~10x slower).
LDLIBS     = -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB) -Wl,--no-as-needed -lopenblas \
             -Wl,--as-needed $(PKG_LIBS) -fopenmp -lmvec -lm

# Output directories: make asan builds the same sources with sanitizer flags into its own pair,
# so that `make test` and `make asan` never rebuild each other's objects.
BUILD     ?= build
BIN       ?= bin

SRC_DIRS  := common tools/unet tools/substrate tools/sweep tools/gen generator cosim
ALL_SRC   := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))
MAIN_SRC  := $(filter %_main.c,$(ALL_SRC))
# MPI: only bin/tdi-sweep links it, through its one adapter file (kept out of libtdi.a).
MPI_SRC   := tools/sweep/tdi_sweep_mpi.c
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   = $(shell pkg-config --libs ompi-c 2>/dev/null)
LIB_SRC   := $(filter-out %_main.c $(MPI_SRC),$(ALL_SRC))
LIB_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
PROGS     := $(foreach m,$(MAIN_SRC),$(BIN)/$(subst _,-,$(patsubst %_main.c,%,$(notdir $(m)))))
TEST_SRC  := $(wildcard tests/test_*.c)
TESTS     := $(patsubst tests/%.c,$(BIN)/%,$(TEST_SRC))
LIB       := $(BUILD)/libtdi.a

# Objects depend on the flags they were built with (e.g. CFLAGS=-O0 then plain make rebuilds).
FLAGS_STAMP := $(BUILD)/.cflags
$(shell mkdir -p $(BUILD) && (echo '$(ALL_CFLAGS) $(LDLIBS)' | cmp -s - $(FLAGS_STAMP) || \
    echo '$(ALL_CFLAGS) $(LDLIBS)' > $(FLAGS_STAMP)))

.PHONY: all deps bench-deps demo test bench asan clean fuzz fuzz-bins
all: $(PROGS) $(TESTS) fuzz-bins

# Installs the Debian packages tdi needs when one is missing (as root), else prints the line.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "deps: installing$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	            >build-deps.log 2>&1 || { cat build-deps.log; exit 1; }; \
	    else \
	        echo "deps: missing packages; run as root:"; \
	        echo "  apt-get install -y$$missing"; exit 1; \
	    fi; \
	fi

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define prog_rule
$(BIN)/$(subst _,-,$(patsubst %_main.c,%,$(notdir $(1)))): $(BUILD)/$(patsubst %.c,%.o,$(1)) $(LIB)
	@mkdir -p $(BIN)
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach m,$(MAIN_SRC),$(eval $(call prog_rule,$(m))))

$(BUILD)/tools/sweep/tdi_sweep_mpi.o: ALL_CFLAGS += $(MPI_CFLAGS)
$(BIN)/tdi-sweep: $(BUILD)/tools/sweep/tdi_sweep_mpi.o
$(BIN)/tdi-sweep: LDLIBS += $(MPI_LIBS)

# Kept (not deleted as intermediates): else the second make rebuilds them once their .d exists.
.SECONDARY: $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TEST_SRC))
$(BIN)/test_%: $(BUILD)/tests/test_%.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

test: deps
	$(MAKE) all
	tests/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

# make bench only: the PyTorch reference of the U-Net bench (scripts/bench_unet_torch.py). Installed
# when missing and run as root; otherwise the bench says it skips PyTorch. make test never needs it.
BENCH_PKGS := python3-torch
bench-deps:
	@for p in $(BENCH_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" && continue; \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "bench-deps: installing $$p"; \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >build-deps.log 2>&1 || \
	            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p \
	              >build-deps.log 2>&1; } || { cat build-deps.log; exit 1; }; \
	    else \
	        echo "bench-deps: $$p missing (the bench skips PyTorch); run as root: apt-get install -y $$p"; \
	    fi; \
	done

bench: deps bench-deps
	$(MAKE) all
	scripts/bench.sh

# The test suite under AddressSanitizer (with LeakSanitizer) and UBSan, any report fatal
# (-fno-sanitize-recover=all: undefined behaviour fails the test that hit it; float-cast-overflow,
# which -fsanitize=undefined leaves out in GCC, catches a double too large for its integer). Leak
# suppressions: tests/lsan.supp, third-party libraries only; tests/asan.sh runs the suite.
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
# CI= : no -Werror here (the normal build has it): at -O1 with the sanitizers GCC gives false
# positives the -O2 build does not (-Wformat-truncation in tdi_sweep_plot.c's fig_energy).
asan: deps
	$(MAKE) all BUILD=build-asan BIN=bin-asan CI= CFLAGS="$(SAN_CFLAGS)"
	tests/asan.sh

# Fuzz harnesses (tests/fuzz/): each fuzz_H.c is one LLVMFuzzerTestOneInput over the library
# code it reaches, built with the sanitizers from its own objects ($(FZ)). FUZZ_KIND=loop (the
# default, part of `all`): linked with tests/fuzz/tdi_fuzz_loop.c (seeded mutation loop) into
# $(BIN)/fuzz/loop-H, run briefly by tests/check_fuzz.sh in make test. FUZZ_KIND=libfuzzer:
# clang's libFuzzer, $(BIN)/fuzz/lf-H; `make fuzz` (tests/fuzz/run.sh) picks it when clang
# has it. Not part of make test: the long runs are `make fuzz` (FUZZ_RUNS per harness).
FUZZ_KIND   ?= loop
FUZZ_H      := npy cfg idx
FUZZ_SRC    := $(wildcard common/*.c) $(filter-out %_main.c,$(wildcard generator/*.c)) \
               tools/unet/tdi_unet_data.c
ifeq ($(FUZZ_KIND),libfuzzer)
FUZZ_CC     := clang
FZ          := $(BUILD)/fuzz-lf
FUZZ_CFLAGS := $(SAN_CFLAGS) -fsanitize=fuzzer-no-link
FUZZ_LINK   := -fsanitize=fuzzer
FUZZ_MAIN   :=
FUZZ_PRE    := lf
else
FUZZ_CC     := $(CC)
FZ          := $(BUILD)/fuzz
FUZZ_CFLAGS := $(SAN_CFLAGS)
FUZZ_LINK   :=
FUZZ_MAIN   := tests/fuzz/tdi_fuzz_loop.c
FUZZ_PRE    := loop
endif
FUZZ_ALLCF   = -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_CFLAGS) -Icommon -Itools/unet -Igenerator \
               -Itests/fuzz -I$(OPENBLAS_INC) $(PKG_CFLAGS)
FUZZ_LIBS    = -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB) -lopenblas $(PKG_LIBS) -lm
FUZZ_BINS   := $(foreach h,$(FUZZ_H),$(BIN)/fuzz/$(FUZZ_PRE)-$(h))
fuzz-bins: $(FUZZ_BINS)

$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_ALLCF) -MMD -MP -c $< -o $@
$(FZ)/libfuzz.a: $(patsubst %.c,$(FZ)/%.o,$(FUZZ_SRC))
	rm -f $@ && ar rcs $@ $^
$(BIN)/fuzz/$(FUZZ_PRE)-%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_file.h $(FUZZ_MAIN) $(FZ)/libfuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_ALLCF) $(FUZZ_LINK) -o $@ $< $(FUZZ_MAIN) $(FZ)/libfuzz.a $(FUZZ_LIBS)

fuzz: deps
	tests/fuzz/run.sh

clean:
	rm -rf build bin build-asan bin-asan

-include $(patsubst %.c,$(FZ)/%.d,$(FUZZ_SRC))
-include $(LIB_OBJ:.o=.d) $(patsubst %.c,$(BUILD)/%.d,$(MAIN_SRC) $(TEST_SRC) $(MPI_SRC))
