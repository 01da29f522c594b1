//! reid's modeling stage: the [`Embedder`] interface and its implementations — ONNX models run
//! through ONNX Runtime (`onnx`, with the library located by `runtime`).

mod embedder;
mod error;
mod onnx;
pub mod runtime;

pub use embedder::Embedder;
pub use error::ModelError;
pub use onnx::OnnxModel;

use std::path::Path;

/// Opens the model at `path`, choosing the implementation by file type.
pub fn open_model(path: &Path, threads: usize) -> Result<Box<dyn Embedder>, ModelError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "onnx" => Ok(Box::new(OnnxModel::open(path, threads)?)),
        _ => Err(ModelError::UnsupportedFormat {
            path: path.to_owned(),
            ext,
        }),
    }
}
