//! Opening a model for any command: the file (ONNX or native checkpoint, sealed or not) on the
//! spec's device and threads, with its pre-processing (the model's own, else the spec's
//! `model.input_*` / `dataset.pixel_*` / `dataset.channel_order`), checked against an input
//! size the model's graph fixes.

use crate::error::EngineError;
use crate::extract::check_input_size;
use reid_config::Spec;
use reid_data::Preprocessor;
use reid_modeling::{Embedder, ModelKey};
use std::path::Path;

/// A model and how images are fed to it.
pub struct OpenModel {
    pub model: Box<dyn Embedder>,
    pub pre: Preprocessor,
}

/// Opens `path` as `spec` says (`num_threads`, `device`), unsealing it with `key`.
pub fn open(spec: &Spec, path: &Path, key: Option<&ModelKey>) -> Result<OpenModel, EngineError> {
    let model = reid_modeling::open_model(path, spec.num_threads, spec.device, key)?;
    let pre = model
        .preprocessor()
        .unwrap_or_else(|| Preprocessor::from_spec(spec));
    check_input_size(model.as_ref(), &pre)?;
    Ok(OpenModel { model, pre })
}

/// Sizes the global thread pool (GEMM, metrics, re-ranking, decoding) to `num_threads`
/// (0 = all cores); a pool that already exists is kept.
pub fn use_threads(num_threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(num_threads)
        .build_global();
}
