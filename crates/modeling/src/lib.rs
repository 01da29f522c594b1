//! reid's modeling stage: the [`Embedder`] interface and its implementations — ONNX models run
//! through ONNX Runtime (`onnx`, with the library located by `runtime`) and the networks reid
//! builds itself with Burn (`native`), on the device chosen at run time (`device`) — and the
//! person [`Detector`] of the video pipeline.

pub mod detector;
mod embedder;
mod error;
pub mod native;
mod onnx;
pub mod onnx_proto;
pub mod runtime;
pub mod sealed;

pub use detector::{BBox, Detection, Detector};
pub use embedder::Embedder;
pub use error::ModelError;
pub use native::NativeModel;
pub use onnx::OnnxModel;
pub use sealed::ModelKey;

use burn::prelude::Device;
use reid_config::DeviceKind;
use std::path::Path;

/// Whether this build has a GPU backend (the `wgpu` feature).
pub const GPU_BACKEND: bool = cfg!(feature = "wgpu");

/// Extension of native checkpoint files (`.checkpoint` is read too).
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

/// Opens the model at `path`, choosing the implementation by file type: a reid checkpoint
/// (recognised by its content, usually `.ckpt`; by its extension when sealed) runs natively on
/// `device`, `.onnx` in ONNX Runtime with `threads` threads. Sealed files open with `key`.
pub fn open_model(
    path: &Path,
    threads: usize,
    device: DeviceKind,
    key: Option<&ModelKey>,
) -> Result<Box<dyn Embedder>, ModelError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let native = native::checkpoint::is_checkpoint(path);
    match ext.as_str() {
        _ if native => Ok(Box::new(NativeModel::open(
            path,
            self::device(device)?,
            key,
        )?)),
        "onnx" => Ok(Box::new(OnnxModel::open(path, threads, key)?)),
        CHECKPOINT_EXTENSION | "checkpoint" => Ok(Box::new(NativeModel::open(
            path,
            self::device(device)?,
            key,
        )?)),
        _ => Err(ModelError::UnsupportedFormat {
            path: path.to_owned(),
            ext,
        }),
    }
}
