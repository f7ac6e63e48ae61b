# tdi: one Makefile. Objects in build/, binaries in bin/.
# Library code: every .c under common/, tools/*/, generator/, cosim/ except *_main.c.
# Programs: <dir>/<name>_main.c -> bin/<name with _ as -> (tools/unet/tdi_unet_main.c -> bin/tdi-unet).
# Tests: tests/test_*.c -> bin/test_*; tests/run.sh runs them and prints "N passed, N failed".

PKGS      := gsl yaml-0.1 zlib libpng ngspice
# OpenBLAS built on OpenMP: the U-Net's own OpenMP loops and the GEMMs then share one thread
# pool (the pthread build's threads busy-yield against OpenMP's: a quarter of the CPU time went
# to sched_yield and the kernel in a profile on 2 cores).
OPENBLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
OPENBLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp
DEB_PKGS  := build-essential pkg-config ngspice libngspice0-dev libgsl-dev libopenblas-dev \
             libopenblas-openmp-dev \
             libyaml-dev zlib1g-dev libpng-dev dataset-fashion-mnist librandom123-dev \
             openmpi-bin libopenmpi-dev gnuplot-nox python3-numpy bc
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

SRC_DIRS  := common tools/unet tools/substrate tools/sweep generator cosim
ALL_SRC   := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))
MAIN_SRC  := $(filter %_main.c,$(ALL_SRC))
# MPI: only bin/tdi-sweep links it, through its one adapter file (kept out of libtdi.a).
MPI_SRC   := tools/sweep/tdi_sweep_mpi.c
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   = $(shell pkg-config --libs ompi-c 2>/dev/null)
LIB_SRC   := $(filter-out %_main.c $(MPI_SRC),$(ALL_SRC))
LIB_OBJ   := $(patsubst %.c,build/%.o,$(LIB_SRC))
PROGS     := $(foreach m,$(MAIN_SRC),bin/$(subst _,-,$(patsubst %_main.c,%,$(notdir $(m)))))
TEST_SRC  := $(wildcard tests/test_*.c)
TESTS     := $(patsubst tests/%.c,bin/%,$(TEST_SRC))
LIB       := build/libtdi.a

# Objects depend on the flags they were built with: a `make asan` followed by `make` rebuilds.
FLAGS_STAMP := build/.cflags
$(shell mkdir -p build && (echo '$(ALL_CFLAGS) $(LDLIBS)' | cmp -s - $(FLAGS_STAMP) || \
    echo '$(ALL_CFLAGS) $(LDLIBS)' > $(FLAGS_STAMP)))

.PHONY: all deps demo test bench asan clean
all: $(PROGS) $(TESTS)

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

build/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define prog_rule
bin/$(subst _,-,$(patsubst %_main.c,%,$(notdir $(1)))): build/$(patsubst %.c,%.o,$(1)) $(LIB)
	@mkdir -p bin
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach m,$(MAIN_SRC),$(eval $(call prog_rule,$(m))))

build/tools/sweep/tdi_sweep_mpi.o: ALL_CFLAGS += $(MPI_CFLAGS)
bin/tdi-sweep: build/tools/sweep/tdi_sweep_mpi.o
bin/tdi-sweep: LDLIBS += $(MPI_LIBS)

bin/test_%: build/tests/test_%.o $(LIB)
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

test: deps
	$(MAKE) all
	tests/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: deps
	$(MAKE) all
	scripts/bench.sh

asan: deps
	$(MAKE) all CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"
	ASAN_OPTIONS=detect_leaks=1 tests/run.sh

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(patsubst %.c,build/%.d,$(MAIN_SRC) $(TEST_SRC) $(MPI_SRC))
