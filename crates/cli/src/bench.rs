//! `reid bench`: each model's img/s and latency per batch size (`bench.batch_sizes`) on a
//! synthetic input and end-to-end extraction speed (decode + model) on the query set when one
//! is configured, all on the same threads: `bench.models` compares several (a checkpoint and
//! its fp32 / fp16 / INT8 exports, or any ReID ONNX models), else `bench.checkpoint` alone.
//! Written as JSON with the thread count and the process's peak RSS.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Context, Result};
use reid_data::dataset::image_paths;
use reid_engine::bench::{peak_rss_bytes, time_batches};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let b = &exp.spec.bench;
    let models = if b.models.is_empty() {
        vec![required(
            &[b.checkpoint.as_ref(), exp.spec.evaluate.checkpoint.as_ref()],
            "bench.models, bench.checkpoint or evaluate.checkpoint",
        )?]
    } else {
        b.models.clone()
    };
    let threads = rayon::current_num_threads();
    let query = exp.spec.bench_set().map(|s| image_paths(&s)).transpose()?;
    println!("reid bench: {} model(s) on {threads} threads", models.len());
    let results = models
        .iter()
        .map(|m| bench_model(&exp, m, query.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    if let [first, rest @ ..] = &results[..]
        && !rest.is_empty()
    {
        println!(
            "  img/s at the largest batch, relative to {}:",
            first["model"]
        );
        let best = |r: &Value| {
            r["batches"]
                .as_array()
                .and_then(|b| b.last())
                .map(|t| t["img_per_s"].as_f64().unwrap_or(0.0))
        };
        for r in &results {
            if let (Some(x), Some(base)) = (best(r), best(first)) {
                println!(
                    "    {:<60} {:>8.1} img/s  ×{:.2}",
                    r["model"].as_str().unwrap_or(""),
                    x,
                    x / base
                );
            }
        }
    }
    let peak_rss_mb = peak_rss_bytes().map(|b| b as f64 / 1e6);
    let mut report = json!({
        "threads": threads,
        "models": results,
        "peak_rss_mb": peak_rss_mb,
    });
    if let [only] = &models[..] {
        report["model"] = json!(only);
    }
    let output = match &b.output_file {
        Some(f) => f.clone(),
        None => exp.subdir("bench", None)?.join("bench.json"),
    };
    std::fs::write(&output, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "  peak RSS {:.0} MB; report: {}",
        peak_rss_mb.unwrap_or(0.0),
        output.display()
    );
    Ok(())
}

/// Timings of one model, with its pre-processing (from its metadata, else the spec's).
fn bench_model(exp: &Experiment, path: &Path, query: Option<&[PathBuf]>) -> Result<Value> {
    let b = &exp.spec.bench;
    let mut model = exp.open_model(path)?;
    let pre = model.pre.clone();
    println!("{} (input {}x{})", path.display(), pre.height, pre.width);
    let timings = time_batches(
        model.model.as_mut(),
        pre.height,
        pre.width,
        &b.batch_sizes,
        b.iterations,
    )?;
    for t in &timings {
        println!(
            "  batch {:>3}: {:>8.1} img/s, latency mean {:.2} ms, p50 {:.2} ms",
            t.batch_size, t.img_per_s, t.latency_ms_mean, t.latency_ms_p50
        );
    }
    let extraction = match query {
        Some(paths) => {
            let started = std::time::Instant::now();
            let out = exp.embed(&mut model, paths, "query")?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  extraction (decode + model, batch {}): {:.1} img/s",
                exp.spec.dataset.val_batch_size,
                out.ok.len() as f64 / secs
            );
            json!({
                "images": out.ok.len(),
                "batch_size": exp.spec.dataset.val_batch_size,
                "seconds": secs,
                "img_per_s": out.ok.len() as f64 / secs,
            })
        }
        None => Value::Null,
    };
    Ok(json!({
        "model": path,
        "input": [pre.height, pre.width],
        "batches": timings,
        "extraction": extraction,
    }))
}
