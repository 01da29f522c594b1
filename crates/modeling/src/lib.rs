//! reid's modeling stage: the [`Embedder`] interface and its implementations — ONNX models run
//! through ONNX Runtime (`onnx`, with the library located by `runtime`) and the networks reid
//! builds itself with Burn (`native`), on the device chosen at run time (`device`).

mod embedder;
mod error;
pub mod native;
mod onnx;
pub mod runtime;

pub use embedder::Embedder;
pub use error::ModelError;
pub use native::NativeModel;
pub use onnx::OnnxModel;

use burn::prelude::Device;
use reid_config::DeviceKind;
use std::path::Path;

/// Extension of native checkpoint files.
pub const CHECKPOINT_EXTENSION: &str = "ckpt";

/// The Burn device for `kind`; GPU kinds need their Cargo feature.
pub fn device(kind: DeviceKind) -> Result<Device, ModelError> {
    match kind {
        DeviceKind::Cpu => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => Ok(Device::wgpu(burn::prelude::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "wgpu"))]
        DeviceKind::Wgpu => Err(ModelError::DeviceUnavailable("wgpu")),
    }
}

/// Opens the model at `path`, choosing the implementation by file type: `.onnx` runs in ONNX
/// Runtime with `threads` threads, a `.ckpt` checkpoint natively on `device`.
pub fn open_model(
    path: &Path,
    threads: usize,
    device: DeviceKind,
) -> Result<Box<dyn Embedder>, ModelError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "onnx" => Ok(Box::new(OnnxModel::open(path, threads)?)),
        CHECKPOINT_EXTENSION => Ok(Box::new(NativeModel::open(path, self::device(device)?)?)),
        _ => Err(ModelError::UnsupportedFormat {
            path: path.to_owned(),
            ext,
        }),
    }
}
