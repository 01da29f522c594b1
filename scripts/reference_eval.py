#!/usr/bin/env python3
"""Independent reference for reid's tests and benchmarks, built on the Python stack only
(Pillow, numpy, onnxruntime). Two modes:

  reference_eval.py evaluate MODEL QUERY_DIR GALLERY_DIR [--bgr]
      PIL bilinear resize to 128x256, ImageNet mean/std, one ONNX Runtime run per image, cosine
      distance on L2-normalised embeddings, Market-1501 protocol; prints JSON metrics.
  reference_eval.py run MODEL TENSOR.f32 N H W OUT.f32
      runs ONNX Runtime on a raw float32 NCHW tensor (one image per run when the graph's batch
      is fixed) and writes the raw float32 output rows.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    fixed = inp.shape[0] if isinstance(inp.shape[0], int) else None
    return sess, inp.name, fixed


def run(sess, name, fixed, x):
    if fixed is None:
        return sess.run(None, {name: x})[0].reshape(len(x), -1)
    return np.concatenate([sess.run(None, {name: x[i:i + 1]})[0].reshape(1, -1) for i in range(len(x))])


def load_dir(d, bgr):
    items = []
    for f in sorted(os.listdir(d)):
        if not f.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        pid, cam = f.split("_")[:2]
        pid = int(pid)
        if pid == -1:
            continue
        img = Image.open(os.path.join(d, f)).convert("RGB").resize((128, 256), Image.BILINEAR)
        x = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
        if bgr:
            x = x[:, :, ::-1]
        items.append((pid, int(cam[1:].split("s")[0]), x.transpose(2, 0, 1)))
    return items


def evaluate(model, qdir, gdir, bgr):
    sess, name, fixed = session(model)
    feats = {}
    for side, d in (("q", qdir), ("g", gdir)):
        items = load_dir(d, bgr)
        x = np.stack([t for _, _, t in items]).astype(np.float32)
        f = run(sess, name, fixed, x)
        f /= np.linalg.norm(f, axis=1, keepdims=True)
        feats[side] = (f, np.array([p for p, _, _ in items]), np.array([c for _, c, _ in items]))
    (qf, qp, qc), (gf, gp, gc) = feats["q"], feats["g"]
    dist = 1.0 - qf @ gf.T
    cmc_sum, aps, inps = np.zeros(50), [], []
    for i in range(len(qp)):
        order = np.argsort(dist[i], kind="stable")
        keep = ~((gp[order] == qp[i]) & (gc[order] == qc[i]))
        m = (gp[order][keep] == qp[i]).astype(np.float64)
        if not m.any():
            continue
        cmc = np.minimum(m.cumsum(), 1)
        cmc_sum += np.pad(cmc[:50], (0, max(0, 50 - len(cmc))), constant_values=1)
        pos = np.where(m == 1)[0]
        aps.append(np.mean(np.arange(1, len(pos) + 1) / (pos + 1)))
        inps.append(len(pos) / (pos[-1] + 1))
    n = len(aps)
    cmc = cmc_sum / n
    print(json.dumps({"rank1": cmc[0], "rank5": cmc[4], "rank10": cmc[9], "mAP": float(np.mean(aps)),
                      "mINP": float(np.mean(inps)), "num_valid_query": n}))


def run_tensor(model, tensor_file, n, h, w, out_file):
    sess, name, fixed = session(model)
    x = np.fromfile(tensor_file, dtype=np.float32).reshape(int(n), 3, int(h), int(w))
    run(sess, name, fixed, x).astype(np.float32).tofile(out_file)


if __name__ == "__main__":
    if sys.argv[1] == "evaluate":
        evaluate(sys.argv[2], sys.argv[3], sys.argv[4], "--bgr" in sys.argv)
    elif sys.argv[1] == "run":
        run_tensor(*sys.argv[2:8])
    else:
        sys.exit(__doc__)
