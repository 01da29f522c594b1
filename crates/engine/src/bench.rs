//! Model throughput and latency per batch size on a fixed synthetic input, and the process's
//! peak resident memory, for `reid bench`.

use crate::error::EngineError;
use reid_modeling::Embedder;
use serde::Serialize;
use std::time::Instant;

/// Timings of one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct BatchTiming {
    pub batch_size: usize,
    pub iterations: usize,
    pub img_per_s: f64,
    pub latency_ms_mean: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_max: f64,
}

/// Runs `model` on `iterations` batches of each size (after one untimed warm-up batch).
pub fn time_batches(
    model: &mut dyn Embedder,
    height: u32,
    width: u32,
    batch_sizes: &[usize],
    iterations: usize,
) -> Result<Vec<BatchTiming>, EngineError> {
    let image_len = 3 * (height * width) as usize;
    let mut rows = Vec::with_capacity(batch_sizes.len());
    for &n in batch_sizes {
        // A deterministic input in the usual normalised range.
        let tensor: Vec<f32> = (0..n * image_len)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        model.embed(&tensor, n, height, width)?;
        let mut ms = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            model.embed(&tensor, n, height, width)?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let total: f64 = ms.iter().sum();
        ms.sort_by(f64::total_cmp);
        rows.push(BatchTiming {
            batch_size: n,
            iterations,
            img_per_s: (n * iterations) as f64 / (total / 1e3),
            latency_ms_mean: total / iterations as f64,
            latency_ms_p50: ms[ms.len() / 2],
            latency_ms_max: ms[ms.len() - 1],
        });
    }
    Ok(rows)
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
