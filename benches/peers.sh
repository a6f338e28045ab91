#!/usr/bin/env bash
# Side by side with the peers: runs skintex's kernel benchmarks and OpenCV / scipy / scikit-image's
# (../shared/peers/peer_bench.py) on the same 12 MP inputs, back to back, at 1 and 2 threads, then
# prints the time ratio per operation (skintex / OpenCV; below 1 means skintex is faster).
#
#   bash benches/peers.sh            # about 8 minutes on 2 cores (first run adds the venv setup)
#   bash benches/peers.sh --fresh-pages
#
# Memory: by default both sides run under the allocator policy the `skintex` binary sets for itself
# (`keep_freed_memory` in src/main.rs: glibc keeps freed planes for reuse), given to both processes
# through glibc's environment variables, so neither pays for fresh pages on every call. With
# `--fresh-pages` both run with glibc's defaults: every 48 MB plane is a fresh `mmap`, and each call
# pays the kernel zeroing its pages (about 2.5 ms per 12 MP plane here, which does not get faster
# with a second thread).
#
# Needs ../shared/peers (read-only; copied to target/peers) and PyPI for the peers' venv.
set -euo pipefail
mode=binary-policy
case "${1:-}" in
    "") ;;
    --fresh-pages) mode=fresh-pages ;;
    *) echo "usage: bash benches/peers.sh [--fresh-pages]" >&2; exit 2 ;;
esac
if [[ $mode == binary-policy ]]; then
    # The same thresholds and arena count as keep_freed_memory.
    export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_ARENA_MAX=1
else
    unset MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_ MALLOC_ARENA_MAX
fi
echo "peers.sh: memory: $mode" >&2
cd "$(dirname "$0")/.."
root=$(pwd)
peers_src="$root/../shared/peers"
work="$root/target/peers"
[[ -d "$peers_src" ]] || { echo "peers.sh: $peers_src not found" >&2; exit 2; }
mkdir -p "$work"
cp -u "$peers_src"/*.py "$peers_src"/requirements.txt "$work"/
cd "$work"
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
    .venv/bin/pip install -q -r requirements.txt
fi
[[ -f inputs/ground_truth.json ]] || .venv/bin/python make_inputs.py
cd "$root"
cargo bench --bench kernels --no-run >/dev/null

ours() {
    local threads=$1
    RAYON_NUM_THREADS=$threads SKINTEX_PEER_INPUTS="$work/inputs" \
        cargo bench --bench kernels -- '/12mp/' --warm-up-time 1 --measurement-time 4 --noplot >/dev/null
    rm -rf "$work/criterion-t$threads"
    cp -r target/criterion "$work/criterion-t$threads"
}

echo "peers.sh: skintex, 1 thread" >&2
ours 1
echo "peers.sh: OpenCV / scipy / scikit-image, 1 and 2 threads" >&2
(cd "$work" && .venv/bin/python peer_bench.py --sections gauss,deriv,bandpass,morph,cc,warp --res 12mp \
    --threads 1,2 --tag side-by-side --quiet-wait 0 >/dev/null)
echo "peers.sh: skintex, 2 threads" >&2
ours 2
python3 "$root/benches/peers_ratio.py" "$work" "$mode"
