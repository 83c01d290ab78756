# civitai-orch: build, test, demo, lint. CI runs `make lint` and `make test`.
CARGO ?= cargo

.PHONY: build test demo lint

build:
	$(CARGO) build --bins --examples

# cargo-nextest when the machine has it (it runs the integration tests in
# parallel processes); plain cargo test otherwise.
test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --no-fail-fast; \
	else \
		$(CARGO) test; \
	fi

demo: build
	@bash tests/support/demo.sh target/debug/civitai-orch target/debug/examples/fake-orchestrator

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
