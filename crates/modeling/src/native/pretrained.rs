//! Pretrained weights for a native backbone, with a report of what did not match: ImageNet
//! weights from a PyTorch state dict (`.pt`/`.pth`) or a safetensors file with torchvision names,
//! and ReID-trained OSNet weights from torchreid's ONNX exports (`.onnx`, BatchNorm folded into
//! the convolutions; module paths from PyTorch's node names).

use super::backbone::Backbone;
use super::net::ReidNet;
use super::osnet::FoldedWeights;
use crate::error::ModelError;
use crate::onnx_proto::{ModelProto, TensorProto, data_type};
use burn::prelude::*;
use burn::store::{
    ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use std::collections::{HashMap, HashSet};
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
    /// The file's BatchNorm was folded into the convolutions: the backbone's BatchNorm
    /// statistics are placeholders until calibrated on data (`OsNet::calibrate`).
    pub needs_calibration: bool,
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
        "onnx" => return load_onnx(backbone, path),
        "pt" | "pth" => {
            let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
            let all = store.get_all_tensors().map_err(|e| fail(e.to_string()))?;
            all.values().cloned().collect()
        }
        _ => {
            return Err(fail(
                "expected a .pt, .pth, .safetensors or .onnx file".into(),
            ));
        }
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
        Backbone::OsNet(m) => m.apply(renamed, None, adapter(), false),
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
        needs_calibration: false,
    })
}

/// Loads a torchreid OSNet exported to ONNX into an OSNet `backbone`.
fn load_onnx(backbone: &mut Backbone, path: &Path) -> Result<PretrainedReport, ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    let Backbone::OsNet(net) = backbone else {
        return Err(fail(
            "ONNX weights (torchreid exports) load into osnet_* backbones only".into(),
        ));
    };
    let mut weights = read_folded(path)?;
    let total = weights.len();
    let missing = net.load_folded(&mut weights).map_err(fail)?;
    let mut unused: Vec<String> = weights.into_keys().collect();
    unused.sort();
    Ok(PretrainedReport {
        applied: total - unused.len(),
        missing,
        unused,
        needs_calibration: true,
    })
}

/// The weight tensors of every Conv, Gemm and BatchNormalization node of the ONNX model at
/// `path`, by the PyTorch module path its node name records; a module applied several times
/// (nodes sharing weights) is kept once.
fn read_folded(path: &Path) -> Result<FoldedWeights, ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let model =
        ModelProto::from_bytes(&bytes).map_err(|e| fail(format!("not an ONNX model: {e}")))?;
    let graph = model
        .graph
        .ok_or_else(|| fail("not an ONNX model: no graph".into()))?;
    let initializers: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let mut seen = HashSet::new();
    let mut out = FoldedWeights::new();
    for node in &graph.node {
        if !matches!(
            node.op_type.as_str(),
            "Conv" | "Gemm" | "BatchNormalization"
        ) {
            continue;
        }
        let params: Vec<&TensorProto> = node.input[1..]
            .iter()
            .filter_map(|name| initializers.get(name.as_str()).copied())
            .collect();
        let Some(first) = params.first() else {
            continue;
        };
        if !seen.insert(first.name.as_str()) {
            continue;
        }
        let key = module_path(&node.name)
            .ok_or_else(|| fail(format!("node {:?} names no module", node.name)))?;
        let tensors = params
            .iter()
            .map(|t| tensor_data(t).map_err(|e| fail(format!("{key}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(key, tensors);
    }
    Ok(out)
}

/// The PyTorch module path in an exported node name: `/conv2/conv2.0/conv2b/conv2b.1/conv1/Conv`
/// → `conv2.0.conv2b.1.conv1` (each scope, with a child that repeats its name plus an index
/// replaced by that child; the last part, the operator, dropped).
fn module_path(node_name: &str) -> Option<String> {
    let scopes: Vec<&str> = node_name.trim_start_matches('/').split('/').collect();
    let (_, scopes) = scopes.split_last()?;
    let mut path: Vec<&str> = Vec::new();
    for scope in scopes {
        match path.last_mut() {
            Some(last)
                if scope
                    .strip_prefix(*last)
                    .is_some_and(|r| r.starts_with('.')) =>
            {
                *last = scope;
            }
            _ => path.push(scope),
        }
    }
    (!path.is_empty()).then(|| path.join("."))
}

/// A float initializer as tensor data.
fn tensor_data(t: &TensorProto) -> Result<TensorData, String> {
    if t.data_type != data_type::FLOAT {
        return Err(format!("data type {} (expected float32)", t.data_type));
    }
    let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    if values.len() != shape.iter().product::<usize>() {
        return Err(format!("{} values for shape {shape:?}", values.len()));
    }
    Ok(TensorData::new(values, shape))
}

#[cfg(test)]
mod tests {
    use super::module_path;

    #[test]
    fn module_paths_from_pytorch_node_names() {
        let path = |n: &str| module_path(n).unwrap_or_default();
        assert_eq!(path("/conv1/conv/Conv"), "conv1.conv");
        assert_eq!(
            path("/conv2/conv2.0/conv2a/conv2/Conv"),
            "conv2.0.conv2a.conv2"
        );
        assert_eq!(
            path("/conv2/conv2.0/conv2b/conv2b.1/conv1/Conv"),
            "conv2.0.conv2b.1.conv1"
        );
        assert_eq!(path("/conv3/conv3.2/conv3.2.0/conv/Conv"), "conv3.2.0.conv");
        assert_eq!(path("/fc/fc.1/BatchNormalization"), "fc.1");
        assert_eq!(module_path("Conv_12"), None);
    }
}
