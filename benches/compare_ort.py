#!/usr/bin/env python3
"""reid's end-to-end feature extraction against ONNX Runtime's own model-only speed, same model
and threads, run back to back in alternating rounds (the machine is shared and noisy).

  .venv/bin/python benches/compare_ort.py SPEC MODEL NAME [--threads 2] [--rounds 3]

SPEC names the query set reid extracts (dataset.query_dataset_dir); ONNX Runtime runs the model
on a synthetic batch of 32 (one image per run for fixed-batch graphs). Writes
benches/results/extraction_vs_ort_NAME.json with every round and the medians.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("model")
    ap.add_argument("name")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    reid = ROOT / "target/release/reid"
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.rounds):
            out = Path(tmp) / "reid.json"
            subprocess.run([reid, "bench", "-e", a.spec, "-r", tmp, f"num_threads={a.threads}",
                            f"bench.checkpoint={a.model}", "bench.batch_sizes=[32]", "bench.iterations=5",
                            f"bench.output_file={out}"], check=True, capture_output=True)
            r = json.loads(out.read_text())
            ort_out = Path(tmp) / "ort.json"
            subprocess.run([sys.executable, ROOT / "benches/ort_bench.py", a.model, str(a.threads), ort_out,
                            "--batches", "32", "--iterations", "5"], check=True, capture_output=True)
            o = json.loads(ort_out.read_text())
            rounds.append({"reid_extraction_img_per_s": r["extraction"]["img_per_s"],
                           "reid_model_img_per_s": r["batches"][0]["img_per_s"],
                           "ort_model_img_per_s": o["batches"][0]["img_per_s"],
                           "reid_peak_rss_mb": r["peak_rss_mb"]})
    med = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
    report = {"model": a.model, "threads": a.threads, "images": r["extraction"]["images"],
              "rounds": rounds, "median": med,
              "extraction_over_ort": med["reid_extraction_img_per_s"] / med["ort_model_img_per_s"],
              "model_over_ort": med["reid_model_img_per_s"] / med["ort_model_img_per_s"]}
    (ROOT / "benches/results").mkdir(parents=True, exist_ok=True)
    (ROOT / f"benches/results/extraction_vs_ort_{a.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
