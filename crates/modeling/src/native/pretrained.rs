//! ImageNet weights for a native backbone from a PyTorch state dict (`.pt`/`.pth`) or a
//! safetensors file with torchvision names, with a report of what did not match.

use super::backbone::Backbone;
use super::net::ReidNet;
use crate::error::ModelError;
use burn::store::{
    ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use std::path::Path;

/// State-dict buffers that the architecture recomputes (not weights; never reported unused).
const DERIVED_BUFFERS: &[&str] = &[
    "num_batches_tracked",
    "relative_position_index",
    "attn_mask",
];

/// How a pretrained file matched the backbone.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainedReport {
    pub applied: usize,
    /// Backbone tensors the file did not provide (they keep their initialisation).
    pub missing: Vec<String>,
    /// File tensors with no place in the backbone (e.g. an ImageNet classifier).
    pub unused: Vec<String>,
}

/// Loads torchvision-named backbone weights from `path` into `net.backbone`.
pub fn load_backbone(net: &mut ReidNet, path: &Path) -> Result<PretrainedReport, ModelError> {
    load_weights(&mut net.backbone, path)
}

/// Loads torchvision-named weights from `path` into `backbone`.
pub fn load_weights(backbone: &mut Backbone, path: &Path) -> Result<PretrainedReport, ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    if !path.is_file() {
        return Err(ModelError::MissingFile(path.to_owned()));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let snapshots: Vec<_> = match ext {
        "safetensors" => {
            let mut store = SafetensorsStore::from_file(path);
            let all = store.get_all_tensors().map_err(|e| fail(e.to_string()))?;
            all.values().cloned().collect()
        }
        "pt" | "pth" => {
            let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
            let all = store.get_all_tensors().map_err(|e| fail(e.to_string()))?;
            all.values().cloned().collect()
        }
        _ => return Err(fail("expected a .pt, .pth or .safetensors file".into())),
    };
    let mut unused = Vec::new();
    let mut renamed = Vec::new();
    for snapshot in &snapshots {
        match backbone.torchvision_key(&snapshot.name) {
            Some(key) => {
                let mut s = snapshot.clone();
                s.name = key;
                renamed.push(s);
            }
            None if DERIVED_BUFFERS.iter().any(|b| snapshot.name.ends_with(b)) => {}
            None => unused.push(snapshot.name.clone()),
        }
    }
    let adapter = || Some(Box::new(PyTorchToBurnAdapter) as _);
    let result = match backbone {
        Backbone::MobileNetV2(m) => m.apply(renamed, None, adapter(), false),
        Backbone::ResNet(m) => m.apply(renamed, None, adapter(), false),
        Backbone::Swin(m) => m.apply(renamed, None, adapter(), false),
    };
    if !result.errors.is_empty() {
        return Err(fail(format!("tensors do not fit: {:?}", result.errors)));
    }
    unused.extend(result.unused);
    unused.sort();
    Ok(PretrainedReport {
        applied: result.applied.len(),
        missing: result.missing.into_iter().map(|(path, _)| path).collect(),
        unused,
    })
}
