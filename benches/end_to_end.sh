#!/usr/bin/env bash
# The end-to-end figures, side by side in one run (the criterion benches time the stages):
#   1. `skintex compare` against OpenCV's whole pipeline (../shared/peers/pair.py) on the same 12 MP JPEG
#      pair: wall time and ratio, alignment corner error and pore recall by the peers' own criteria;
#   2. a batch of P patients × 4 sessions of 12 MP photos (`skintex synth`): `skintex check` (decoding
#      alone) against `skintex analyze` (everything), photos/s and peak memory, for 4 and for 25
#      patients (25 × 4 = 100 photos).
#
#   bash benches/end_to_end.sh            # about 15 minutes on 2 cores, most of it rendering the batch once
#   THREADS=1 RUNS=3 bash benches/end_to_end.sh
#
# Part 1 needs ../shared/peers (copied to target/peers, its venv made there, as benches/peers.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
threads=${THREADS:-2}
runs=${RUNS:-5}
cargo build --release --locked -q
bin="$root/target/release/skintex"
work="$root/target/e2e"
mkdir -p "$work"

peers_src="$root/../shared/peers"
if [[ -d "$peers_src" ]]; then
    peers="$root/target/peers"
    mkdir -p "$peers"
    cp -u "$peers_src"/*.py "$peers_src"/requirements.txt "$peers"/
    if [[ ! -x "$peers/.venv/bin/python" ]]; then
        python3 -m venv "$peers/.venv"
        "$peers/.venv/bin/pip" install -q -r "$peers/requirements.txt"
    fi
    [[ -f "$peers/inputs/ground_truth.json" ]] || (cd "$peers" && .venv/bin/python make_inputs.py)
    echo "## 1. compare vs OpenCV pair.py"
    echo
    "$peers/.venv/bin/python" "$root/benches/pair_vs_opencv.py" "$peers" "$bin" --runs "$runs" --threads "$threads"
    echo
else
    echo "end_to_end.sh: $peers_src not found; skipping the OpenCV comparison" >&2
fi

echo "## 2. batches of 12 MP photos ($threads threads)"
echo
echo "| patients | photos | decode only (check) | analyze | analyze / decode | photos/s | peak memory analyze |"
echo "|---|---|---|---|---|---|---|"
for patients in 4 25; do
    photos="$work/batch-$patients"
    if [[ ! -f "$photos/truth.json" ]]; then
        "$bin" -q synth "$photos" --force --patients "$patients" --sessions 4 --width 4000 --height 3000
    fi
    sync
    t0=$(date +%s.%N)
    "$bin" -j "$threads" check "$photos" 2>"$work/check-$patients.log" || true
    t1=$(date +%s.%N)
    rm -rf "$work/out-$patients"
    "$bin" -j "$threads" analyze "$photos" -o "$work/out-$patients" 2>"$work/analyze-$patients.log" || true
    t2=$(date +%s.%N)
    n=$((patients * 4))
    peak=$(grep -o 'peak memory [0-9]* MB' "$work/analyze-$patients.log" | grep -o '[0-9]*')
    python3 - "$t0" "$t1" "$t2" "$patients" "$n" "$peak" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
patients, n, peak = sys.argv[4], int(sys.argv[5]), sys.argv[6]
d, a = t1 - t0, t2 - t1
print(f"| {patients} | {n} | {d:.1f} s | {a:.1f} s | {a / d:.2f} | {n / a:.2f} | {peak} MB |")
PY
done
