# Thin wrapper over Meson so that the usual commands work.
#   make                 build into build/
#   make check           run every test (unit, golden, integration, conformance, fuzz corpus)
#   make check-asan      the test suite under AddressSanitizer + UBSan (build-asan/)
#   make install PREFIX=/opt/ferry
#   make bench           benchmarks (figures go to BENCHMARKS.md by hand)
#   make demo            start ferryd (local backend) and run a sample pod end to end
PREFIX ?= /usr/local
# WERROR=1 (CI) turns warnings into errors
MESON_EXTRA = $(if $(WERROR),-Dwerror=true)
BUILD ?= build
MESON ?= meson

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --prefix=$(abspath $(PREFIX)) $(MESON_EXTRA)

check: all
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2

build-asan/build.ninja:
	CC=clang $(MESON) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug $(MESON_EXTRA)

check-asan: build-asan/build.ninja
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  $(MESON) test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3

fuzz:
	CC=clang $(MESON) setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug || true
	ninja -C build-fuzz
	# new inputs go to a scratch corpus; add a file to tests/fuzz/corpus/ by hand when it matters
	mkdir -p build-fuzz/corpus-pod && cp tests/fuzz/corpus/pod/* build-fuzz/corpus-pod/
	build-fuzz/tests/fuzz/fuzz-pod -max_total_time=$${FUZZ_SECONDS:-60} build-fuzz/corpus-pod

install: all
	$(MESON) configure $(BUILD) --prefix=$(abspath $(PREFIX))
	$(MESON) install -C $(BUILD)

# Figures are written into BENCHMARKS.md by hand, with machine and date.
# The Slurm bench needs root (it starts a single-node Slurm); it is skipped otherwise.
bench: all
	BUILD_DIR=$(BUILD) bash bench/run-core.sh
	$(BUILD)/bench/mig/bench-mig
	bash bench/node/run.sh $(BUILD) 1000 100
	bash bench/gpu/handoff.sh $(BUILD) 40 1
	bash bench/local/issue16.sh $(BUILD)
	$(BUILD)/bench/tenancy/bench-admission 300
	bash bench/tenancy/admission.sh $(BUILD)
	if [ "$$(id -u)" = 0 ]; then BUILD_DIR=$(BUILD) bash bench/slurm/run.sh; else echo "bench: Slurm bench skipped (needs root)"; fi

demo: all
	bash scripts/demo.sh

# The Debian package (build-deb/ferry_VERSION_ARCH.deb), and its check in a clean Debian 12 tree
# (root, slow, apt fetches the dependencies: not part of `make check`)
deb:
	bash scripts/make-deb.sh

deb-check:
	bash scripts/deb-check.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-deb

.PHONY: all check check-asan fuzz install bench demo deb deb-check clean
