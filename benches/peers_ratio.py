#!/usr/bin/env python3
"""Prints skintex / OpenCV time ratios from one benches/peers.sh run.

Reads criterion's medians (target/peers/criterion-t{1,2}/<group>/<id>/new/estimates.json) and the
peers' rows (target/peers/results/side-by-side.json), pairs them by operation, and prints a table.
"""
import json
import os
import sys

work = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "unknown"

# skintex benchmark id -> (peer op, peer impl, target ratio or None)
PAIRS = [
    ("gaussian/12mp/sigma=1", "Gaussian f32 sigma=1", "cv2.GaussianBlur", 1.0),
    ("gaussian/12mp/sigma=2", "Gaussian f32 sigma=2", "cv2.GaussianBlur", 1.0),
    ("gaussian/12mp/sigma=4", "Gaussian f32 sigma=4", "cv2.GaussianBlur", None),
    ("gaussian/12mp/sigma=8", "Gaussian f32 sigma=8", "cv2.GaussianBlur", 0.2),
    ("gaussian/12mp/sigma=16", "Gaussian f32 sigma=16", "cv2.GaussianBlur", 0.2),
    ("sobel/12mp/magnitude", "Sobel 3x3 gradient magnitude f32", "cv2.Sobel x2 + cv2.magnitude", None),
    ("log/12mp/sigma=3", "LoG sigma=3 f32", "cv2 2x sepFilter2D (exact)", None),
    ("dog/12mp/sigma=1,4", "DoG band-pass (1,4) f32", "cv2 2x GaussianBlur + subtract", None),
    ("tophat/12mp/r=6", "black top-hat disk r=6 u8", "cv2.morphologyEx BLACKHAT", 1.5),
    ("tophat/12mp/r=6", "black top-hat disk r=6 f32", "cv2.morphologyEx BLACKHAT", None),
    ("label/12mp/8-conn+stats", "threshold(blackhat) -> CC + stats (8-conn)", "cv2.connectedComponentsWithStats", 1.0),
    ("label/12mp/8-conn+stats+image", "threshold(blackhat) -> CC + stats (8-conn)", "cv2.connectedComponentsWithStats", 1.0),
    ("warp/12mp/bilinear", "warpAffine bilinear gray f32", "cv2.warpAffine", 1.0),
]


def ours(threads, bench_id):
    # criterion stores group "gaussian/12mp" as the directory "gaussian_12mp".
    group, param = bench_id.rsplit("/", 1)
    path = os.path.join(work, f"criterion-t{threads}", group.replace("/", "_"), param, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e6
    except OSError:
        return None


with open(os.path.join(work, "results", "side-by-side.json")) as f:
    data = json.load(f)
rows = data["records"] if isinstance(data, dict) and "records" in data else data
peer = {(r["op"], r["impl"], r.get("threads")): r["median_ms"] for r in rows if r.get("res") == "12mp"}

print(f"memory: {mode}\n")
print("| operation (12 MP) | threads | skintex ms | OpenCV ms | ratio | target |")
print("|---|---|---|---|---|---|")
for bench_id, op, impl, target in PAIRS:
    for t in (1, 2):
        a, b = ours(t, bench_id), peer.get((op, impl, t))
        if a is None or b is None:
            print(f"| {op} ({bench_id}) | {t} | {a if a else 'n/a'} | {b if b else 'n/a'} | n/a | {target or ''} |")
            continue
        ratio = a / b
        mark = "" if target is None else (" ✓" if ratio <= target else " ✗")
        print(f"| {op} ({bench_id.split('/')[-1]}) | {t} | {a:.1f} | {b:.1f} | {ratio:.2f}{mark} | {'≤ ' + str(target) if target else ''} |")
for bench_id in ("gaussian/12mp/sigma=8", "tophat/12mp/r=6", "label/12mp/8-conn+stats",
                 "label/12mp/8-conn+stats+image", "warp/12mp/bilinear"):
    a, b = ours(1, bench_id), ours(2, bench_id)
    if a and b:
        print(f"speed-up 2 vs 1 thread, {bench_id}: {a / b:.2f}× (target ≥ 1.7×)")
