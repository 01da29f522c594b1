#!/usr/bin/env python3
"""Dense numpy reference for k-reciprocal re-ranking (Zhong et al., CVPR 2017), in the
feature-based form used by reid-strong-baseline / TAO, written independently from the
algorithm's description. It writes the fixture that `crates/evaluation/src/rerank.rs` tests
against:

    /work/main/.venv/bin/python scripts/rerank_reference.py
    # -> crates/evaluation/tests/data/rerank_reference.json   (generated once, numpy 2.4.6)

Everything is computed in float64 with N x N matrices (fine for these small cases). The
features are rounded to float32 first, so the Rust side sees exactly the same inputs. Each case
is redrawn until no neighbour list depends on a near-tie (gap < 1e-5 between the last value
kept and the next one), so float32 arithmetic on the Rust side must give the same neighbour
sets; the case with a stored ranking also has no near-ties in its final rows. The exception is
the small-integer case: its distances are exact in float32 too, so its many exact ties (and
duplicate rows) check the stable, lower-index-first tie order.
"""
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "crates/evaluation/tests/data/rerank_reference.json"
MIN_GAP = 1e-5


def k_reciprocal(rank, i, k):
    """The j among i's k+1 nearest (forward order) that have i among their own k+1 nearest."""
    return np.array([j for j in rank[i, : k + 1] if i in rank[j, : k + 1]], dtype=np.int64)


def normalised_distances(query, gallery):
    feats = np.concatenate([query, gallery]).astype(np.float64)
    diff = feats[:, None, :] - feats[None, :, :]
    dist = (diff**2).sum(axis=-1)  # squared Euclidean, squared once
    return np.transpose(dist / np.max(dist, axis=0))


def re_rank(query, gallery, k1, k2, lam):
    q = len(query)
    original = normalised_distances(query, gallery)
    n = len(original)
    rank = np.argsort(original, axis=1, kind="stable")
    half = int(np.around(k1 / 2))

    v = np.zeros((n, n))
    for i in range(n):
        recip = k_reciprocal(rank, i, k1)
        expansion = recip
        for c in recip:
            cand = k_reciprocal(rank, c, half)
            if len(np.intersect1d(cand, recip)) > 2 / 3 * len(cand):
                expansion = np.append(expansion, cand)
        expansion = np.unique(expansion)
        weight = np.exp(-original[i, expansion])
        v[i, expansion] = weight / weight.sum()

    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])

    jaccard = np.empty((q, n))
    for i in range(q):
        both = (v[i] != 0) & (v != 0)
        temp_min = np.where(both, np.minimum(v[i], v), 0.0).sum(axis=1)
        jaccard[i] = 1 - temp_min / (2 - temp_min)

    final = jaccard * (1 - lam) + original[:q] * lam
    return final[:, q:], original


def l2(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_features(rng, n, dim):
    return l2(rng.standard_normal((n, dim)))


def clustered_features(rng, n, dim, ids, noise):
    centres = rng.standard_normal((ids, dim))
    labels = rng.integers(0, ids, size=n)  # uneven identity sizes
    return l2(centres[labels] + noise * rng.standard_normal((n, dim)))


def integer_features(rng, n, dim):
    return rng.integers(0, 3, size=(n, dim)).astype(np.float64)  # not normalised: exact ties


def min_gap(rows):
    s = np.sort(rows, axis=1)
    return np.diff(s, axis=1).min() if s.shape[1] > 1 else np.inf


def boundary_gap(original, k1, k2):
    """Smallest gap at the cut of every top-m list the algorithm takes (k1+1, round(k1/2)+1, k2)."""
    s = np.sort(original, axis=1)
    cuts = {m for m in (k1 + 1, int(np.around(k1 / 2)) + 1, k2) if 0 < m < s.shape[1]}
    return min((s[:, m] - s[:, m - 1]).min() for m in cuts) if cuts else np.inf


def make_case(name, seed, nq, ng, make, k1, k2, lam, with_ranking=False, exact=False):
    # Redraw (next seed) until the case is free of near-ties, so it is decidable in float32.
    while True:
        rng = np.random.default_rng(seed)
        feats = make(rng, nq + ng).astype(np.float32).astype(np.float64)
        query, gallery = feats[:nq], feats[nq:]
        final, original = re_rank(query, gallery, k1, k2, lam)
        if exact or boundary_gap(original, k1, k2) > MIN_GAP and (not with_ranking or min_gap(final) > MIN_GAP):
            break
        seed += 1000
    print(f"{name}: seed {seed}, N={nq + ng}, final range {final.min():.4f}..{final.max():.4f}")
    case = {
        "name": name,
        "seed": seed,
        "k1": k1,
        "k2": k2,
        "lambda_value": lam,
        "dim": query.shape[1],
        "query": [float(x) for x in query.ravel()],
        "gallery": [float(x) for x in gallery.ravel()],
        "expected": [[round(float(x), 9) for x in row] for row in final],
    }
    if with_ranking:
        case["ranking"] = np.argsort(final, axis=1, kind="stable").tolist()
    return case


def main():
    rand8 = lambda rng, n: random_features(rng, n, 8)  # noqa: E731
    clus16 = lambda rng, n: clustered_features(rng, n, 16, 5, 0.6)  # noqa: E731
    clus12 = lambda rng, n: clustered_features(rng, n, 12, 4, 0.5)  # noqa: E731
    clus32 = lambda rng, n: clustered_features(rng, n, 32, 12, 0.7)  # noqa: E731
    cases = [
        make_case("random_k1_5_k2_3", 1, 6, 20, rand8, 5, 3, 0.3),
        make_case("clustered_k1_20_k2_6", 2, 10, 40, clus16, 20, 6, 0.3, with_ranking=True),
        make_case("clustered_k2_1", 3, 8, 30, clus12, 6, 1, 0.3),
        make_case("clustered_odd_k1_7", 8, 8, 30, clus12, 7, 3, 0.3),  # np.around(3.5) = 4
        make_case("clustered_lambda_0", 4, 8, 30, clus12, 6, 3, 0.0),
        make_case("clustered_lambda_1", 5, 8, 30, clus12, 6, 3, 1.0),
        make_case("integer_ties", 9, 6, 24, lambda rng, n: integer_features(rng, n, 3), 5, 3, 0.3, exact=True),
        make_case("k1_and_k2_beyond_n", 6, 4, 8, clus12, 15, 20, 0.3),
        make_case("clustered_market_params", 7, 20, 80, clus32, 20, 6, 0.3),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(cases, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
