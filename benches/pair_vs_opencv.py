#!/usr/bin/env python3
"""`skintex compare` against OpenCV's whole reference pipeline (../shared/peers/pair.py) on the same
12 MP JPEG pair, side by side in one run: wall time of each command (alternating, median of N runs),
and the same quality criteria for both from the peers' own code (peer_bench.corner_error and
det_quality against inputs/ground_truth.json): alignment corner error, pore recall and precision.

usage: pair_vs_opencv.py PEERS_DIR SKINTEX_BINARY [--runs N] [--threads T]
Run by benches/end_to_end.sh, with the peers' virtual environment.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def wall(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main():
    peers, binary = sys.argv[1], os.path.abspath(sys.argv[2])
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
    sys.path.insert(0, peers)
    import peer_bench as pb  # noqa: E402

    before = os.path.join(peers, "inputs", "before_12mp.jpg")
    after = os.path.join(peers, "inputs", "after_12mp.jpg")
    out = tempfile.mkdtemp(prefix="skintex-pair-")
    ours_cmd = [binary, "-q", "-j", threads, "compare", before, after, "-o", out]
    peer_cmd = [sys.executable, os.path.join(peers, "pair.py"), before, after, "--threads", threads]

    # Warm the page cache and both programs once, then alternate so drift hits both alike.
    wall(ours_cmd)
    wall(peer_cmd)
    ours, peer = [], []
    for _ in range(runs):
        ours.append(wall(ours_cmd))
        peer.append(wall(peer_cmd))
    t_ours, t_peer = statistics.median(ours), statistics.median(peer)

    # Quality, by the peers' own criteria. OpenCV: the same function pair.py runs, in-process.
    D = pb.Data("12mp")
    c = pb._cv2(int(threads))
    o = pb.reference_pipeline(c, before, after, D.f)
    kept = sorted({p["id"] for p in D.gt["pores_after"]})
    D2 = type("D2", (), {})()
    D2.pores, D2.scars, D2.tol = D.pores[kept], D.scars, D.tol
    cv = {
        **pb.corner_error(o["M"], D.M, D.W, D.H),
        "before": pb.det_quality(o["pores"]["before"]["xy"], D),
        "after": pb.det_quality(o["pores"]["after"]["xy"], D2),
    }
    # skintex: report.json's matrix maps session (after) pixels to baseline (before) pixels; the
    # ground truth maps before to after, so compare its inverse. Pore positions are in baseline pixels.
    report = json.load(open(os.path.join(out, "compare", "report.json")))
    sessions = report["views"][0]["sessions"]
    to_before = np.array(sessions[1]["alignment"]["matrix"], np.float64)
    to_after = np.linalg.inv(to_before)[:2]
    ours_q = {
        **pb.corner_error(to_after, D.M, D.W, D.H),
        "before": pb.det_quality([p[:2] for p in sessions[0]["metrics"]["pores"]["positions"]], D),
        "after": pb.det_quality([p[:2] for p in sessions[1]["metrics"]["pores"]["positions"]], D2),
    }

    print(f"12 MP JPEG pair, {threads} threads, median of {runs} alternating runs (wall, whole command)")
    print()
    print("| | skintex compare | OpenCV pair.py | OpenCV / skintex |")
    print("|---|---|---|---|")
    print(f"| wall time | {t_ours * 1e3:.0f} ms | {t_peer * 1e3:.0f} ms | {t_peer / t_ours:.2f}× |")
    for label, key in (("corner error mean", "corner_err_mean_px"), ("corner error max", "corner_err_max_px")):
        print(f"| {label} | {ours_q[key]:.3f} px | {cv[key]:.3f} px | |")
    for s in ("before", "after"):
        a, b = ours_q[s], cv[s]
        print(f"| pores {s}: recall / precision (detections, GT pores) | {a['pore_recall']:.3f} / "
              f"{a['precision']:.3f} ({a['n_det']}, {a['n_gt_pores']}) | {b['pore_recall']:.3f} / "
              f"{b['precision']:.3f} ({b['n_det']}, {b['n_gt_pores']}) | |")
    print()
    print("runs, s: skintex " + " ".join(f"{t:.2f}" for t in ours) + " · OpenCV " +
          " ".join(f"{t:.2f}" for t in peer))


if __name__ == "__main__":
    main()
