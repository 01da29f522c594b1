#!/usr/bin/env python3
"""scikit-learn reference for reid's open-set verification metrics
(`crates/evaluation/src/verification.rs`). It writes the fixture that
`crates/evaluation/tests/verification.rs` checks reid against:

    python3 -m venv /work/refvenv && /work/refvenv/bin/pip install scikit-learn numpy
    /work/refvenv/bin/python scripts/verification_fixture.py
    # -> crates/evaluation/tests/fixtures/verification_sklearn.json
    #    (generated with scikit-learn 1.9.1, numpy 2.4.6)

The case: 30 queries x 260 gallery items with seeded pids and cameras; some query pids have no
gallery match (open-set probes), and gallery items with the query's pid *and* camera are
dropped, as in the Market-1501 protocol. Those dropped cells get distance 0, so a reid that
counted them would see better genuine pairs than sklearn. Distances are Gaussian around 0.55
(genuine) and 1.15 (impostor), rounded to multiples of 1/256 (exact in float32; many ties,
within and across the two kinds) and clipped to [0, 2]. About 7,500 impostor pairs: FAR 1e-3
admits 7 false accepts, 1e-4 none (the FAR = 0 rule).

sklearn's `roc_curve` (higher score = genuine, so score = -distance, every distinct threshold:
`drop_intermediate=False`) gives the curve; the EER and the TAR@FAR operating points are then
computed here from that curve with the conventions documented in verification.rs:

* EER: linear interpolation on the first segment of the polyline (0, 0), ROC points, whose end
  has FNR - FAR <= 0 (FNR = 1 - TPR).
* TAR@FAR f: the largest TPR among the points (origin included) with FPR <= f, at the smallest
  distance threshold reaching it; threshold null when that TPR is 0.
"""
import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import roc_curve

OUT = (
    Path(__file__).resolve().parent.parent
    / "crates/evaluation/tests/fixtures/verification_sklearn.json"
)
SEED = 20240917
NUM_QUERY, NUM_GALLERY = 30, 260
GALLERY_IDS, QUERY_IDS, CAMERAS = 24, 30, 6
STEP = 1.0 / 256
FAR_TARGETS = [1e-2, 1e-3, 1e-4]


def eer(fpr, tpr):
    """FAR where FNR - FAR crosses 0 on the ROC polyline (sklearn's curve starts at (0, 0))."""
    d = (1.0 - tpr) - fpr
    k = int(np.argmax(d <= 0))  # d[0] = 1 at the origin; the curve ends at (1, 1), d = -1
    a = d[k - 1] / (d[k - 1] - d[k])
    return float(fpr[k - 1] + a * (fpr[k] - fpr[k - 1]))


def at_far(fpr, tpr, distance, target):
    """(TAR, threshold or None, achieved FAR) for one FAR target."""
    within = np.flatnonzero(fpr <= target)
    best = tpr[within].max()
    if best == 0:
        return 0.0, None, 0.0
    j = within[np.flatnonzero(tpr[within] == best)[0]]
    return float(tpr[j]), float(distance[j]), float(fpr[j])


def main():
    rng = np.random.default_rng(SEED)
    g_pids = rng.integers(0, GALLERY_IDS, NUM_GALLERY)
    g_cams = rng.integers(1, CAMERAS + 1, NUM_GALLERY)
    q_pids = rng.integers(0, QUERY_IDS, NUM_QUERY)
    q_cams = rng.integers(1, CAMERAS + 1, NUM_QUERY)

    same = q_pids[:, None] == g_pids[None, :]
    excluded = same & (q_cams[:, None] == g_cams[None, :])
    centre = np.where(same, 0.55, 1.15)
    dist = centre + 0.18 * rng.standard_normal((NUM_QUERY, NUM_GALLERY))
    dist = np.clip(np.round(dist / STEP) * STEP, 0.0, 2.0)
    dist[excluded] = 0.0
    assert np.all(dist.astype(np.float32).astype(np.float64) == dist)

    keep = ~excluded
    genuine = same[keep]
    d = dist[keep]
    fpr, tpr, thr = roc_curve(genuine, -d, drop_intermediate=False)
    assert thr[0] == np.inf and fpr[0] == 0 and tpr[0] == 0
    distance = -thr  # ascending; -inf for sklearn's "accept nothing" origin

    num_genuine, num_impostor = int(genuine.sum()), int((~genuine).sum())
    # The case exercises what it is meant to.
    assert excluded.sum() > 0 and (same & keep).sum(axis=1).min() == 0
    assert num_impostor * FAR_TARGETS[1] >= 5 and num_impostor * FAR_TARGETS[2] < 1
    mixed = set(d[genuine].tolist()) & set(d[~genuine].tolist())
    assert len(mixed) > 20, "genuine/impostor ties"

    points = [at_far(fpr, tpr, distance, f) for f in FAR_TARGETS]
    fixture = {
        "generator": f"scripts/verification_fixture.py, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, seed {SEED}",
        "rows": NUM_QUERY,
        "cols": NUM_GALLERY,
        "query_pids": q_pids.tolist(),
        "query_camids": q_cams.tolist(),
        "gallery_pids": g_pids.tolist(),
        "gallery_camids": g_cams.tolist(),
        "dist": dist.ravel().tolist(),
        "num_genuine": num_genuine,
        "num_impostor": num_impostor,
        # sklearn's curve at every distinct distance, its (0, 0) origin left out.
        "roc_threshold": distance[1:].tolist(),
        "roc_far": fpr[1:].tolist(),
        "roc_tar": tpr[1:].tolist(),
        "eer": eer(fpr, tpr),
        "far": FAR_TARGETS,
        "tar": [p[0] for p in points],
        "threshold": [p[1] for p in points],
        "far_achieved": [p[2] for p in points],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(
        f"{OUT}: {OUT.stat().st_size / 1e3:.0f} kB, {num_genuine} genuine / {num_impostor} "
        f"impostor pairs, {len(fpr) - 1} ROC points, EER {fixture['eer']:.6f}, "
        f"TAR {fixture['tar']}, thresholds {fixture['threshold']}"
    )


if __name__ == "__main__":
    main()
