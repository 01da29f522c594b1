//! Errors of running models over data.

use reid_data::DataError;
use reid_modeling::ModelError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("model {model} produced NaN or infinite values for image {}", image.display())]
    NonFinite { model: String, image: PathBuf },
    #[error(
        "model {model} takes input size {fixed} where `{key}` is {configured}; set {key}={fixed}"
    )]
    InputSize {
        model: String,
        key: &'static str,
        fixed: u32,
        configured: u32,
    },
    #[error("no {label} image could be read{detail}")]
    NoImages { label: String, detail: String },
    #[error("cannot start worker threads: {0}")]
    ThreadPool(String),
}
