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
    #[error(transparent)]
    Spec(#[from] reid_config::ConfigError),
    #[error("calibration file {}: {message}", path.display())]
    Calibration { path: PathBuf, message: String },
    #[error("verification: {0}")]
    Verification(#[from] reid_evaluation::verification::VerificationError),
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
    #[error("{0}")]
    Config(String),
    #[error(
        "training diverged: the loss is {value} at epoch {epoch}, batch {step}; the last checkpoint \
         is kept (lower train.optim.base_lr or set train.clip_grad_norm)"
    )]
    NonFiniteLoss { epoch: u32, step: usize, value: f64 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start worker threads: {0}")]
    ThreadPool(String),
}
