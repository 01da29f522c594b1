//! `reid bench`: a model's img/s and latency per batch size (`bench.batch_sizes`) on a
//! synthetic input, end-to-end extraction speed (decode + model) on the query set when one is
//! configured, the thread count and peak RSS, written as JSON.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Context, Result};
use reid_data::dataset::list_images;
use reid_engine::bench::{peak_rss_bytes, time_batches};
use serde_json::json;

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let b = &exp.spec.bench;
    let checkpoint = required(
        &[b.checkpoint.as_ref(), exp.spec.evaluate.checkpoint.as_ref()],
        "bench.checkpoint or evaluate.checkpoint",
    )?;
    let mut model = exp.open_model(&checkpoint)?;
    let pre = exp.preprocessor(model.as_ref());
    reid_engine::extract::check_input_size(model.as_ref(), &pre)?;
    let threads = rayon::current_num_threads();
    println!(
        "reid bench: {} on {threads} threads, input {}x{}",
        checkpoint.display(),
        pre.height,
        pre.width
    );
    let timings = time_batches(
        model.as_mut(),
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
    let query_dir = exp.spec.evaluate.query_dataset.as_ref().or(exp
        .spec
        .dataset
        .query_dataset_dir
        .as_ref());
    let extraction = match query_dir {
        Some(dir) => {
            let paths = list_images(dir)?;
            let started = std::time::Instant::now();
            let out = exp.embed(model.as_mut(), &paths, "query")?;
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
        None => serde_json::Value::Null,
    };
    let peak_rss_mb = peak_rss_bytes().map(|b| b as f64 / 1e6);
    let report = json!({
        "model": checkpoint,
        "threads": threads,
        "input": [pre.height, pre.width],
        "batches": timings,
        "extraction": extraction,
        "peak_rss_mb": peak_rss_mb,
    });
    let output = match &b.output_file {
        Some(f) => f.clone(),
        None => exp.subdir("bench")?.join("bench.json"),
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
