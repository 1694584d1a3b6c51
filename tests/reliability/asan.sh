#!/usr/bin/env bash
# AddressSanitizer run of the plugin's integration tests (nightly Rust only; not part of `cargo test`).
#
#   tests/reliability/asan.sh                 # the default set of test binaries below
#   tests/reliability/asan.sh render_quality  # chosen ones
#
# The plugin cdylib, ofx-render and the test binaries are all built with ASan into target/asan (a separate
# target folder, so the ordinary build is untouched). ONNX Runtime itself is not instrumented: ASan sees our
# code and every buffer we hand across the C boundary. Two flags are needed for the plugin to load under ASan:
#   -Clink-arg=-rdynamic                      the executable exports the ASan runtime's symbols to the dlopen'ed plugin
#   -Cunsafe-allow-abi-mismatch=sanitizer     the prebuilt standard library is not sanitized
# Leak checking is off (detect_leaks=0): the runtime and the host keep process-lifetime caches on purpose;
# the soak benchmark (tests/reliability/soak.sh) is the leak check.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(ofx_passthrough ofx_faults ofx_quirks_natron ofx_quirks_resolve ofx_host_gaps render_quality track_files workflow faces_several packs_manifest)
fi
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
# An explicit target keeps ASan off build scripts and proc macros; set by variable so that the tests' own
# `cargo build` of the plugin (tests/support/common.rs) builds it the same way.
export CARGO_BUILD_TARGET=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Zsanitizer=address -Clink-arg=-rdynamic -Cunsafe-allow-abi-mismatch=sanitizer"
export RUSTDOCFLAGS="$RUSTFLAGS"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:symbolize=1"
export CARGO_TARGET_DIR=target/asan
# The ONNX Runtime the ordinary tests fetched, so this run needs no download.
if [ -d target/onnxruntime-cache ] && [ ! -d target/asan/onnxruntime-cache ]; then
    mkdir -p target/asan && cp -r target/onnxruntime-cache target/asan/
fi
export RUSTUP_TOOLCHAIN=nightly
cargo test -p living-portrait "${args[@]}"
