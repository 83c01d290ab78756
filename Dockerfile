# The static binary alone. Build it first with `make release` (it writes
# target/dist/civitai-orch, the x86_64 musl binary this copies), then
#   docker build -t civitai-orch .
#   docker run --rm -e CIVITAI_API_TOKEN civitai-orch workflows --take=5
# No shell, no libc, no CA files: the web roots are built into the binary.
# `make release` checks that it runs in an empty root, as this image is, and
# `make test` makes real requests from one (tests/cli/empty_root.rs).
FROM scratch
COPY target/dist/civitai-orch /civitai-orch
ENTRYPOINT ["/civitai-orch"]
