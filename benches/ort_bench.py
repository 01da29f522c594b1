#!/usr/bin/env python3
"""ONNX Runtime's own speed (Python API), the yardstick for `reid bench`.

  ort_bench.py MODEL THREADS OUT.json [--batches 1,8,32] [--iterations 10] [--images DIR]

Same synthetic input as reid's bench; with --images, also the end-to-end img/s of a plain Python
pipeline over DIR (PIL decode + resize + normalise, then ONNX Runtime in batches of 32).
"""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("threads", type=int)
    ap.add_argument("out")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--images")
    a = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    fixed = inp.shape[0] if isinstance(inp.shape[0], int) else None
    h, w = 256, 128

    def run(x):
        if fixed is None:
            return sess.run(None, {inp.name: x})[0]
        return [sess.run(None, {inp.name: x[i:i + 1]})[0] for i in range(len(x))]

    rows = []
    for n in [int(b) for b in a.batches.split(",")]:
        i = np.arange(n * 3 * h * w, dtype=np.int64)
        x = (((i * 7919) % 1000) / 500.0 - 1.0).astype(np.float32).reshape(n, 3, h, w)
        run(x)
        ms = []
        for _ in range(a.iterations):
            t = time.perf_counter()
            run(x)
            ms.append((time.perf_counter() - t) * 1e3)
        rows.append({"batch_size": n, "iterations": a.iterations,
                     "img_per_s": n * a.iterations / (sum(ms) / 1e3),
                     "latency_ms_mean": sum(ms) / len(ms), "latency_ms_p50": sorted(ms)[len(ms) // 2]})
    report = {"engine": "onnxruntime-python " + ort.__version__, "model": a.model,
              "threads": a.threads, "batches": rows}
    if a.images:
        mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
        std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
        files = sorted(os.path.join(a.images, f) for f in os.listdir(a.images) if f.endswith(".jpg"))
        t = time.perf_counter()
        for k in range(0, len(files), 32):
            batch = [(np.asarray(Image.open(f).convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32)
                      / 255.0 - mean) / std for f in files[k:k + 32]]
            run(np.stack(batch).transpose(0, 3, 1, 2).copy())
        secs = time.perf_counter() - t
        report["extraction"] = {"images": len(files), "seconds": secs, "img_per_s": len(files) / secs}
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
