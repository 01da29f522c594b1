//! Feature extraction over a list of images: each batch is decoded on a worker pool, then
//! embedded by the model, with a progress bar (img/s, ETA), optional flip test-time
//! augmentation (embedding of the image plus that of its mirror), and a check that every
//! embedding is finite. Images that fail to decode are reported and left out.

use crate::error::EngineError;
use indicatif::{ProgressBar, ProgressStyle};
use reid_data::{Features, Preprocessor, Skipped};
use reid_modeling::Embedder;
use std::path::PathBuf;

/// How to run a model over images.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub batch_size: usize,
    /// Add the embedding of the mirrored image (`model.with_flip_feature`).
    pub flip: bool,
    /// Decoding threads; 0 = all cores.
    pub workers: usize,
    /// Shown before the progress bar, e.g. "query".
    pub label: String,
}

/// Embeddings of the images that could be read.
#[derive(Debug)]
pub struct Extracted {
    /// One row per entry of `ok`.
    pub features: Features,
    /// Indices into the input paths of the embedded images, ascending.
    pub ok: Vec<usize>,
    pub failed: Vec<Skipped>,
}

/// Checks that the pre-processing size agrees with a model whose graph fixes it.
pub fn check_input_size(model: &dyn Embedder, pre: &Preprocessor) -> Result<(), EngineError> {
    let (h, w) = model.input_size();
    for (key, fixed, configured) in [
        ("model.input_height", h, pre.height),
        ("model.input_width", w, pre.width),
    ] {
        if let Some(fixed) = fixed.filter(|&f| f != configured) {
            return Err(EngineError::InputSize {
                model: model.describe(),
                key,
                fixed,
                configured,
            });
        }
    }
    Ok(())
}

/// Embeds the `n` pre-processed images of an NCHW `tensor`; with `flip`, adds the embedding of
/// each mirrored image (the tensor is left mirrored).
pub fn embed_tensor(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    tensor: &mut [f32],
    n: usize,
    flip: bool,
) -> Result<Features, EngineError> {
    let mut feats = model.embed(tensor, n, pre.height, pre.width)?;
    if flip {
        pre.mirror(tensor);
        let mirrored = model.embed(tensor, n, pre.height, pre.width)?;
        feats
            .data
            .iter_mut()
            .zip(&mirrored.data)
            .for_each(|(a, b)| *a += b);
    }
    Ok(feats)
}

/// Embeds `paths` with `model`, pre-processed by `pre`.
pub fn extract(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    paths: &[PathBuf],
    opts: &ExtractOptions,
) -> Result<Extracted, EngineError> {
    check_input_size(model, pre)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.workers)
        .build()
        .map_err(|e| EngineError::ThreadPool(e.to_string()))?;
    let bar = progress_bar(paths.len() as u64, &opts.label);
    let batch_size = opts.batch_size.max(1);
    let mut out = Extracted {
        features: Features::default(),
        ok: Vec::with_capacity(paths.len()),
        failed: Vec::new(),
    };
    // Decoding takes every core, then the model does. Overlapping the two (a decoder thread
    // one batch ahead, also at idle priority) measured slower or no faster on 2 cores: the
    // model's threads then wait for preempted peers (benches/results/extraction_vs_ort_*).
    let batches = paths
        .chunks(batch_size)
        .enumerate()
        .map(|(b, chunk)| (b * batch_size, pool.install(|| pre.load_batch(chunk))));
    for (offset, mut batch) in batches {
        let done = (batch.ok.len() + batch.failed.len()) as u64;
        out.failed.append(&mut batch.failed);
        let n = batch.ok.len();
        if n > 0 {
            let feats = embed_tensor(model, pre, &mut batch.tensor, n, opts.flip)?;
            if let Some(row) = feats.first_non_finite_row() {
                return Err(EngineError::NonFinite {
                    model: model.describe(),
                    image: paths[offset + batch.ok[row]].clone(),
                });
            }
            out.features.dim = feats.dim;
            out.features.data.extend_from_slice(&feats.data);
            out.ok.extend(batch.ok.iter().map(|i| offset + i));
        }
        bar.inc(done);
    }
    bar.finish_and_clear();
    if out.ok.is_empty() {
        return Err(EngineError::NoImages {
            label: opts.label.clone(),
            detail: reid_data::dataset::summarize(&out.failed),
        });
    }
    Ok(out)
}

fn progress_bar(len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {per_sec:.1} ETA {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}
