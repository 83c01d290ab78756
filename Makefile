# civitai-orch: build, test, demo, lint, release, dist, bench, fuzz. CI runs
# `make lint` and `make test`.
CARGO ?= cargo
FUZZ_SECS ?= 20

.PHONY: build test demo lint release dist bench-download bench size-costs fuzz man

build:
	$(CARGO) build --bins --examples

# cargo-nextest when the machine has it (it runs the integration tests in
# parallel processes); plain cargo test otherwise. A static x86_64 musl debug
# build comes first: tests/cli/empty_root.rs runs it in an empty root, as the
# Dockerfile's image does.
STATIC_TEST_BIN = $(CURDIR)/target/x86_64-unknown-linux-musl/debug/civitai-orch
test:
	@CARGO="$(CARGO)" bash tests/support/release.sh --debug-static
	@export CIVITAI_ORCH_STATIC_BIN="$(STATIC_TEST_BIN)"; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --no-fail-fast; \
	else \
		$(CARGO) test; \
	fi

demo: build
	@bash tests/support/demo.sh target/debug/civitai-orch target/debug/examples/fake-orchestrator

# The layering rule of src/lib.rs, then format and clippy.
lint:
	python3 tests/support/layers.py src
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Static, stripped binaries in target/dist/: x86_64 musl (the rustup target is
# added when missing), and aarch64 musl when a cross compiler is at hand.
release:
	@CARGO="$(CARGO)" bash tests/support/release.sh

# The release archives of both targets and SHA256SUMS in target/dist/ (see
# tests/support/dist.sh): the cross compiler and qemu-user are installed
# with apt when missing; a part that cannot be built fails the run.
dist:
	@CARGO="$(CARGO)" bash tests/support/dist.sh

# A 512 MiB download by the static binary beside curl -o (see README).
bench-download: release
	$(CARGO) build -q --release --example fake-orchestrator
	bash tests/support/bench_download.sh

# The release binary against its budget (size, start-up, CPU per request,
# memory over a long walk), beside a Node.js fetch baseline. Never in tests:
# figures on a shared machine are not pass/fail material for CI.
# VARIANTS="s z 3 s+ureq/gzip" adds a table of the same binary at other
# opt-levels or with more features; STATIC_PIE=1 measures static-pie builds.
bench:
	@CARGO="$(CARGO)" bash tests/support/bench.sh

# What each size saving of the release build costs in CPU: the release
# binary rebuilt with one saving left out at a time, all measured in one run
# (tests/support/size_costs.sh; about 15 minutes).
size-costs:
	@CARGO="$(CARGO)" bash tests/support/size_costs.sh

# The cargo-fuzz targets of fuzz/, each for FUZZ_SECS seconds (default 20),
# one after another; nightly and cargo-fuzz are installed when missing.
# FUZZ_TARGETS="names dates" runs only those.
fuzz:
	@FUZZ_SECS="$(FUZZ_SECS)" bash tests/support/fuzz.sh $(FUZZ_TARGETS)

# The man page from the command and option tables (the same as --help).
man:
	@mkdir -p target
	$(CARGO) run -q --example man > target/civitai-orch.1
	@echo "man: target/civitai-orch.1 (man -l target/civitai-orch.1)"
