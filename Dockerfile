# The static binary alone: `make release`, then
#   docker build -t civitai-orch .
#   docker run --rm -e CIVITAI_API_TOKEN civitai-orch workflows --take=5
# No shell, no libc, no CA files: the web roots are built into the binary
# (`make release` checks that it runs in an empty root, as this image is).
FROM scratch
COPY target/dist/civitai-orch /civitai-orch
ENTRYPOINT ["/civitai-orch"]
