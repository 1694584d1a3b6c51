#!/usr/bin/env bash
# Soak benchmark: the demo track at 1920x1080 float through the release bundle, FRAMES frames (default
# 1,200: the 48-frame track repeated) with 1 and with 8 render threads, reporting resident memory before
# the plugin loads, its peak, and at the end (tests/reliability/memory.sh splits a peak into plugin and host).
#
#   tests/reliability/soak.sh [FRAMES]
#
# A leak shows as "resident after rendering" growing with FRAMES; run it with two lengths to compare.
# Freed host frame buffers go straight back to the system (MALLOC_MMAP_THRESHOLD_, as in hosts that keep
# their own image caches), so what is left above the host is the plugin's.
set -euo pipefail
cd "$(dirname "$0")/../.."
frames=${1:-1200}
repeat=$(( (frames + 47) / 48 ))
cargo run -q --release -p installer -- bundle >/dev/null
cargo build -q --release -p ofx --bin ofx-render
bundle_dir=${CARGO_TARGET_DIR:-target}
for threads in 1 8; do
    echo "== $((repeat * 48)) frames, $threads render thread(s)"
    MALLOC_MMAP_THRESHOLD_=4194304 "$bundle_dir/release/ofx-render" --plugin-path "$bundle_dir" \
        --plugin org.livingportrait.LivingPortrait \
        --input Source=resources/demo/astronaut.png --input-resize Source=1920x1080 \
        --param driveMode=trackFile --param trackFile=resources/demo/track.json \
        --frames 1-48 --repeat "$repeat" --bench --threads "$threads" |
        grep -E "steady state per frame, (mean|median)|throughput|resident"
done
