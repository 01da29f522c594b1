//! Errors of model loading and running; each names the model file or the shape at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "ONNX Runtime's shared library (libonnxruntime.so) was not found; run the set-up script \
         (scripts/setup.sh) or point ORT_DYLIB_PATH at it. Looked in: {looked}"
    )]
    RuntimeNotFound { looked: String },
    #[error("cannot load ONNX Runtime from {}: {message}", path.display())]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("model file {} does not exist", .0.display())]
    MissingFile(PathBuf),
    #[error("model {}: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("model {}: {message}", path.display())]
    Shape { path: PathBuf, message: String },
    #[error("model {}: inference failed: {message}", path.display())]
    Run { path: PathBuf, message: String },
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    #[error("model {}: {message}", path.display())]
    Sealed { path: PathBuf, message: String },
    #[error("{0}")]
    Config(String),
    #[error("device `{0}` is not available: this reid was built without its Cargo feature")]
    DeviceUnavailable(&'static str),
    #[error(
        "model {}: `{ext}` files are not supported (use an .onnx model or a reid .ckpt checkpoint)",
        path.display()
    )]
    UnsupportedFormat { path: PathBuf, ext: String },
}
