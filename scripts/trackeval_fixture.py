#!/usr/bin/env python3
"""TrackEval reference for reid's multi-object-tracking metrics (`crates/evaluation/src/mot.rs`,
`crates/evaluation/src/hota.rs`). It writes the fixture that `crates/evaluation/tests/hota.rs`
checks reid against:

    python3 -m venv /work/tevenv && /work/tevenv/bin/pip install trackeval numpy scipy
    /work/tevenv/bin/python scripts/trackeval_fixture.py
    # -> crates/evaluation/tests/fixtures/trackeval_mot.json
    #    (generated with trackeval 1.3.0, numpy 2.4.6, scipy 1.17.1)

PyPI's `trackeval` is the packaged fork of JonathonLuiten/TrackEval; its HOTA, CLEAR and Identity
metrics and its MOTChallenge loader are the upstream code (only `np.float` / `np.int` spelled
`float` / `int` for numpy 2). This script installs nothing.

Every case is written as MOTChallenge files (`gt/gt.txt` with class 1 and confidence 1, the
tracker's `<seq>.txt`) into a temporary folder and read back by TrackEval's own `MotChallenge2DBox`
loader, whose `get_preprocessed_seq_data` builds the metric input (IoU similarities from
`_calculate_box_ious`, ids relabelled to 0..n-1); then `HOTA`, `CLEAR` and `Identity`
`eval_sequence` run on it. TrackEval counts timesteps 1..T; a case's `frames` (reid's labelled
frames, e.g. 720, 722, ... for vtest) are timesteps 1..T in their order.

The cases: hand-made ones (perfect tracking, one id switch, fragmentation, misses and false
positives, a crowd of overlapping boxes, empty frames, two tracks with identical boxes and IoUs
exactly at the thresholds, no tracker boxes, no ground truth, nothing at all), seeded random
sequences (people walking in and out, trackers that jitter, drop, switch, fragment and invent
boxes), and the labelled vtest stretch (assets/labels/vtest/gt.txt) against a seeded
perturbation of itself, without its ignore regions. Coordinates are multiples of 1/16 px, exact in
float32, so reid reads the same boxes as TrackEval.
"""
import json
import random
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from trackeval.datasets import MotChallenge2DBox
from trackeval.metrics import CLEAR, HOTA, Identity

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/evaluation/tests/fixtures/trackeval_mot.json"
VTEST_GT = ROOT / "assets/labels/vtest/gt.txt"
SEED = 20250611
STEP = 1.0 / 16
SEQ = "case"
TRACKER = "reid"

HOTA_ARRAYS = ["HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA"]
HOTA_COUNTS = ["HOTA_TP", "HOTA_FN", "HOTA_FP"]
HOTA_SCALARS = ["HOTA(0)", "LocA(0)", "HOTALocA(0)"]
CLEAR_FIELDS = [
    "MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA",
    "CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag",
]
IDENTITY_FIELDS = ["IDF1", "IDR", "IDP", "IDTP", "IDFN", "IDFP"]


def snap(v):
    return round(v / STEP) * STEP


def box(x, y, w, h):
    return [snap(x), snap(y), max(snap(w), STEP), max(snap(h), STEP)]


def row_text(t, ident, b, tail):
    return ",".join([str(t), str(ident)] + [repr(float(v)) for v in b] + tail)


def trackeval_scores(frames, gt, tracker):
    """TrackEval's HOTA / CLEAR / Identity for rows `[frame, id, x, y, w, h]`."""
    step_of = {f: i + 1 for i, f in enumerate(frames)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gt_file = tmp / "gt" / SEQ / "gt" / "gt.txt"
        tr_file = tmp / "trackers" / TRACKER / "data" / f"{SEQ}.txt"
        gt_file.parent.mkdir(parents=True)
        tr_file.parent.mkdir(parents=True)
        gt_file.write_text(
            "".join(row_text(step_of[r[0]], r[1], r[2:], ["1", "1", "1"]) + "\n" for r in gt)
        )
        tr_file.write_text(
            "".join(
                row_text(step_of[r[0]], r[1], r[2:], ["1", "-1", "-1", "-1"]) + "\n"
                for r in tracker
            )
        )
        dataset = MotChallenge2DBox(
            {
                "GT_FOLDER": str(tmp / "gt"),
                "TRACKERS_FOLDER": str(tmp / "trackers"),
                "TRACKERS_TO_EVAL": [TRACKER],
                "SEQ_INFO": {SEQ: len(frames)},
                "SKIP_SPLIT_FOL": True,
                "PRINT_CONFIG": False,
            }
        )
        raw = dataset.get_raw_seq_data(TRACKER, SEQ)
        data = dataset.get_preprocessed_seq_data(raw, "pedestrian")
    quiet = {"PRINT_CONFIG": False}
    hota = HOTA().eval_sequence(data)
    clear = CLEAR(quiet).eval_sequence(data)
    identity = Identity(quiet).eval_sequence(data)
    out = {name: float(np.mean(hota[name])) for name in HOTA_ARRAYS}
    out.update({name: float(hota[name]) for name in HOTA_SCALARS})
    out["per_alpha"] = {"alpha": [float(a) for a in HOTA().array_labels]}
    for name in HOTA_ARRAYS + HOTA_COUNTS:
        out["per_alpha"][name] = [float(v) for v in hota[name]]
    out.update({name: float(clear[name]) for name in CLEAR_FIELDS})
    out.update({name: float(identity[name]) for name in IDENTITY_FIELDS})
    return out


def walker(rng, frames, ident, start, end, x, y, vx, vy, w, h):
    """Ground-truth rows of one person walking in a straight line with a little sway."""
    rows = []
    for f in frames:
        if start <= f <= end:
            k = f - start
            rows.append(
                [f, ident]
                + box(x + vx * k + rng.gauss(0, 0.7), y + vy * k + rng.gauss(0, 0.5), w, h)
            )
    return rows


def jitter(rng, b, sigma):
    x, y, w, h = b
    return box(
        x + rng.gauss(0, sigma * w),
        y + rng.gauss(0, sigma * h),
        w * (1 + rng.gauss(0, sigma)),
        h * (1 + rng.gauss(0, sigma)),
    )


def perturbed(rng, gt, *, drop, sigma, wild, switch, fragment, fp_rate, frames, extent):
    """A tracker made from `gt`: jittered boxes (some far off), dropped boxes, identity swaps
    between two people, track fragments under new ids and false positives (some persistent)."""
    by_frame = {}
    for r in gt:
        by_frame.setdefault(r[0], []).append(r)
    label = {}
    next_id = 1000
    rows = []
    ghosts = []
    for f in frames:
        present = sorted({r[1] for r in by_frame.get(f, [])})
        for p in present:
            if p not in label:
                label[p] = next_id
                next_id += 1
            if rng.random() < fragment:
                label[p] = next_id
                next_id += 1
        if len(present) >= 2 and rng.random() < switch:
            a, b = rng.sample(present, 2)
            label[a], label[b] = label[b], label[a]
        for r in by_frame.get(f, []):
            if rng.random() < drop:
                continue
            s = sigma * (6 if rng.random() < wild else 1)
            rows.append([f, label[r[1]]] + jitter(rng, r[2:], s))
        if rng.random() < fp_rate:
            w = rng.uniform(15, 50)
            x, y = rng.uniform(0, extent[0]), rng.uniform(0, extent[1])
            ghosts.append([next_id, x, y, w, w * 2.4, 1 + rng.randrange(5)])
            next_id += 1
        for g in ghosts:
            if g[5] > 0:
                g[5] -= 1
                g[1] += rng.gauss(0, 3)
                rows.append([f, g[0]] + box(g[1], g[2], g[3], g[4]))
    return rows


def random_case(rng, num_frames, people, **errors):
    frames = list(range(1, num_frames + 1))
    gt = []
    for p in range(1, people + 1):
        start = rng.randrange(1, num_frames)
        end = min(num_frames, start + rng.randrange(3, num_frames))
        w = rng.uniform(20, 60)
        gt += walker(
            rng, frames, p, start, end,
            rng.uniform(0, 500), rng.uniform(50, 300), rng.uniform(-6, 6), rng.uniform(-2, 2),
            w, w * rng.uniform(2.0, 3.0),
        )
    gt.sort()
    tracker = perturbed(rng, gt, frames=frames, extent=(600, 400), **errors)
    return frames, gt, sorted(tracker)


def hand_cases(rng):
    cases = {}
    frames = list(range(1, 13))
    two = walker(rng, frames, 1, 1, 12, 10, 100, 8, 0, 30, 80) + walker(
        rng, frames, 2, 1, 12, 110, 102, -8, 0, 32, 78
    )
    two.sort()
    cases["perfect"] = (frames, two, [[r[0], r[1] + 40] + r[2:] for r in two])
    # Person 1 and 2 cross around frame 6; from frame 7 on the tracker swaps their ids.
    swapped = [
        [r[0], (r[1] if r[0] < 7 else 3 - r[1]) + 10] + jitter(rng, r[2:], 0.02) for r in two
    ]
    cases["one_id_switch"] = (frames, two, swapped)
    # Person 1's track breaks into three ids with gaps; person 2 is followed throughout.
    frag = []
    for r in two:
        if r[1] == 1 and r[0] in (5, 9):
            continue
        ident = 20 + (r[0] > 5) + (r[0] > 9) if r[1] == 1 else 30
        frag.append([r[0], ident] + jitter(rng, r[2:], 0.03))
    cases["fragmentation"] = (frames, two, frag)
    # Misses, false positives and boxes that overlap their person too little (IoU < 0.5).
    noisy = []
    for r in two:
        if r[0] % 4 == 0 and r[1] == 2:
            continue
        b = jitter(rng, r[2:], 0.02)
        if r[0] % 5 == 0 and r[1] == 1:
            b = [snap(b[0] + 0.6 * b[2]), b[1], b[2], b[3]]
        noisy.append([r[0], r[1] + 50] + b)
    noisy += [[f, 60 + f % 2, *box(300 + 3 * f, 40, 25, 60)] for f in frames if f % 3]
    cases["misses_and_false_positives"] = (frames, two, sorted(noisy))
    # A crowd: six people within a few pixels of each other, heavily overlapping.
    crowd_frames = list(range(1, 16))
    crowd = []
    for p in range(1, 7):
        crowd += walker(
            rng, crowd_frames, p, 1, 15,
            200 + 9 * p, 150 + 4 * (p % 3), 1.5 * (-1) ** p, 0.3 * p, 28 + p, 75 + 2 * p,
        )
    crowd.sort()
    crowd_tr = perturbed(
        rng, crowd, drop=0.08, sigma=0.05, wild=0.05, switch=0.15, fragment=0.03,
        fp_rate=0.2, frames=crowd_frames, extent=(300, 250),
    )
    cases["crowd_overlap"] = (crowd_frames, crowd, sorted(crowd_tr))
    # Frames 3-4 have no ground truth, 6-7 no tracker boxes, 9 neither; tracks go on after.
    gaps = [r for r in two if r[0] not in (3, 4, 9)]
    gaps_tr = [
        [r[0], r[1] + 70] + jitter(rng, r[2:], 0.03) for r in two if r[0] not in (6, 7, 9)
    ]
    gaps_tr += [[3, 79, *box(400, 50, 30, 70)], [4, 79, *box(404, 50, 30, 70)]]
    cases["empty_frames"] = (frames, gaps, sorted(gaps_tr))
    # Ties and thresholds hit exactly: two tracks with identical boxes on person 1 (frames 1-4,
    # one of them alone after that), and person 2's boxes cut to IoU exactly 0.75, 0.5 or 0.25
    # (TrackEval's alphas 0.7500000000000001 and 0.5 and the CLEAR / identity 0.5 gate).
    exact = [[f, 1, 100 + 4 * f, 100, 20, 40] for f in frames[:8]]
    exact += [[f, 2, 200 - 4 * f, 120, 24, 40] for f in frames[:8]]
    exact_tr = []
    for f, _, x, y, w, h in exact[:8]:
        exact_tr.append([f, 12, x, y, w, h])
        if f <= 4:
            exact_tr.append([f, 11, x, y, w, h])
    for (f, _, x, y, w, h), kept in zip(exact[8:], [30, 20, 10, 30, 20, 20, 30, 10]):
        exact_tr.append([f, 13 + (f > 5), x, y + h - kept, w, kept])
    cases["ties_and_exact_thresholds"] = (frames[:8], sorted(exact), sorted(exact_tr))
    cases["no_tracker_boxes"] = (frames, two, [])
    cases["no_ground_truth"] = (frames, [], [[r[0], r[1] + 5] + r[2:] for r in two])
    cases["nothing"] = (frames, [], [])
    return cases


def vtest_case(rng):
    gt = []
    for line in VTEST_GT.read_text().splitlines():
        v = line.split(",")
        gt.append([int(v[0]), int(v[1])] + [float(x) for x in v[2:6]])
    frames = sorted({r[0] for r in gt})
    tracker = perturbed(
        rng, gt, drop=0.1, sigma=0.04, wild=0.06, switch=0.08, fragment=0.03,
        fp_rate=0.4, frames=frames, extent=(768, 576),
    )
    return frames, gt, sorted(tracker)


def main():
    rng = random.Random(SEED)
    cases = hand_cases(rng)
    settings = [
        (40, 8, dict(drop=0.1, sigma=0.04, wild=0.05, switch=0.05, fragment=0.02, fp_rate=0.3)),
        (60, 15, dict(drop=0.2, sigma=0.06, wild=0.1, switch=0.1, fragment=0.04, fp_rate=0.6)),
        (30, 4, dict(drop=0.02, sigma=0.02, wild=0.02, switch=0.02, fragment=0.01, fp_rate=0.1)),
        (50, 25, dict(drop=0.3, sigma=0.08, wild=0.15, switch=0.2, fragment=0.05, fp_rate=1.0)),
    ]
    for k, (num_frames, people, errors) in enumerate(settings):
        cases[f"random_{k}"] = random_case(rng, num_frames, people, **errors)
    cases["vtest_perturbed"] = vtest_case(rng)
    fixture = {
        "generator": "scripts/trackeval_fixture.py",
        "versions": {p: version(p) for p in ["trackeval", "numpy", "scipy"]},
        "cases": [],
    }
    for name, (frames, gt, tracker) in cases.items():
        scores = trackeval_scores(frames, gt, tracker)
        fixture["cases"].append(
            {"name": name, "frames": frames, "gt": gt, "tracker": tracker, "trackeval": scores}
        )
        print(
            f"{name}: {len(gt)} gt, {len(tracker)} tracker boxes; HOTA {scores['HOTA']:.4f} "
            f"DetA {scores['DetA']:.4f} AssA {scores['AssA']:.4f} MOTA {scores['MOTA']:.4f} "
            f"IDF1 {scores['IDF1']:.4f} IDSW {scores['IDSW']:.0f}"
        )
    OUT.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
