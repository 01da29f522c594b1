//! What TAO's deployment paths need beside the ONNX file, written from the exported model's own
//! input size, embedding size, batch and pre-processing: a Triton model-repository entry
//! (`config.pbtxt`, Triton's ONNX Runtime platform) and the `ReID:` section of a DeepStream
//! NvDCF tracker config (`offsets` = 255 × mean and `netScaleFactor` = 1 / (255 × std), the
//! input `y = netScaleFactor · (x − offset)` on 0–255 pixels).

use crate::{OUTPUT_NAME, WeightType};
use reid_config::ChannelOrder;
use reid_data::Preprocessor;
use std::path::Path;

/// Largest batch Triton may form for a dynamic-batch model (TAO's deployable model uses 16).
pub const TRITON_MAX_BATCH: usize = 16;

/// A Triton `config.pbtxt` for model `name`: dynamic batches up to [`TRITON_MAX_BATCH`], or the
/// export's fixed `batch`.
pub fn triton_config(name: &str, pre: &Preprocessor, dim: usize, batch: Option<usize>) -> String {
    let (h, w) = (pre.height, pre.width);
    let (max_batch, input_dims, output_dims, batching) = match batch {
        None => (
            TRITON_MAX_BATCH,
            format!("[ 3, {h}, {w} ]"),
            format!("[ {dim} ]"),
            "dynamic_batching { }\n",
        ),
        Some(b) => (
            0,
            format!("[ {b}, 3, {h}, {w} ]"),
            format!("[ {b}, {dim} ]"),
            "",
        ),
    };
    format!(
        "# Triton model-repository entry written by reid export: put this folder in the \
         repository, the model in 1/model.onnx.\n\
         name: \"{name}\"\n\
         platform: \"onnxruntime_onnx\"\n\
         max_batch_size: {max_batch}\n\
         input [\n  {{\n    name: \"input\"\n    data_type: TYPE_FP32\n    dims: {input_dims}\n  }}\n]\n\
         output [\n  {{\n    name: \"{OUTPUT_NAME}\"\n    data_type: TYPE_FP32\n    dims: {output_dims}\n  }}\n]\n\
         {batching}"
    )
}

/// The DeepStream NvDCF `ReID:` section for the ONNX file at `onnx`, and a warning when the
/// model's per-channel std cannot be one `netScaleFactor` exactly (their mean is used).
pub fn deepstream_reid(
    onnx: &Path,
    pre: &Preprocessor,
    dim: usize,
    weights: WeightType,
    batch: Option<usize>,
) -> (String, Option<String>) {
    let std = pre.std.iter().sum::<f32>() / 3.0;
    let warning = pre.std.iter().any(|s| (s - std).abs() > 1e-6).then(|| {
        format!(
            "the model's pixel_std {:?} differs per channel; DeepStream takes one \
                 netScaleFactor, so it is set from their mean {std:.4}",
            pre.std
        )
    });
    let offsets: Vec<String> = pre
        .mean
        .iter()
        .map(|m| format!("{:.4}", 255.0 * m))
        .collect();
    let (mode, mode_name) = match weights {
        WeightType::Fp32 => (0, "fp32"),
        WeightType::Fp16 => (1, "fp16"),
        WeightType::Int8 => (2, "int8"),
    };
    let color = match pre.channel_order {
        ChannelOrder::Rgb => 0,
        ChannelOrder::Bgr => 1,
    };
    let batch_size = batch.unwrap_or(100);
    let engine = format!("{}_b{batch_size}_gpu0_{mode_name}.engine", onnx.display());
    let text = format!(
        "# ReID section of a DeepStream NvDCF tracker config, written by reid export for\n\
         # {onnx}: paste it into the tracker's YAML (e.g. config_tracker_NvDCF_accuracy.yml).\n\
         ReID:\n\
         \x20 reidType: 2 # re-association\n\
         \x20 outputReidTensor: 1\n\
         \x20 batchSize: {batch_size}\n\
         \x20 workspaceSize: 1000\n\
         \x20 reidFeatureSize: {dim}\n\
         \x20 reidHistorySize: 100\n\
         \x20 inferDims: [3, {h}, {w}]\n\
         \x20 networkMode: {mode} # {mode_name}\n\
         \x20 inputOrder: 0 # NCHW\n\
         \x20 colorFormat: {color} # {order}\n\
         \x20 offsets: [{offsets}]\n\
         \x20 netScaleFactor: {scale:.8}\n\
         \x20 keepAspc: 0 # reid resizes crops to the input size\n\
         \x20 addFeatureNormalization: 1 # the ONNX output is not L2-normalised\n\
         \x20 minVisibility4GalleryUpdate: 0.6\n\
         \x20 onnxFile: \"{onnx}\"\n\
         \x20 modelEngineFile: \"{engine}\"\n",
        onnx = onnx.display(),
        h = pre.height,
        w = pre.width,
        order = if color == 0 { "RGB" } else { "BGR" },
        offsets = offsets.join(", "),
        scale = 1.0 / (255.0 * std),
    );
    (text, warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tao_pre() -> Preprocessor {
        Preprocessor {
            height: 256,
            width: 128,
            mean: [0.485, 0.456, 0.406],
            std: [0.226; 3],
            channel_order: ChannelOrder::Rgb,
        }
    }

    #[test]
    fn tao_preprocessing_gives_deepstreams_published_numbers() {
        let (text, warning) =
            deepstream_reid(Path::new("m.onnx"), &tao_pre(), 256, WeightType::Fp16, None);
        assert!(warning.is_none());
        // DeepStream's own sample config for TAO's ReIdentificationNet.
        assert!(
            text.contains("offsets: [123.6750, 116.2800, 103.5300]"),
            "{text}"
        );
        assert!(text.contains("netScaleFactor: 0.01735207"), "{text}");
        assert!(text.contains("inferDims: [3, 256, 128]") && text.contains("networkMode: 1"));
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(yaml["ReID"]["reidFeatureSize"], 256);
        let bgr = Preprocessor {
            std: [0.229, 0.224, 0.225],
            channel_order: ChannelOrder::Bgr,
            ..tao_pre()
        };
        let (text, warning) =
            deepstream_reid(Path::new("m.onnx"), &bgr, 128, WeightType::Fp32, Some(8));
        assert!(warning.unwrap().contains("differs per channel"));
        assert!(
            text.contains("colorFormat: 1") && text.contains("batchSize: 8"),
            "{text}"
        );
    }

    #[test]
    fn triton_dims_leave_the_batch_out_only_when_it_is_dynamic() {
        let dynamic = triton_config("reid", &tao_pre(), 256, None);
        assert!(
            dynamic.contains("max_batch_size: 16") && dynamic.contains("dims: [ 3, 256, 128 ]")
        );
        assert!(dynamic.contains("name: \"fc_pred\"") && dynamic.contains("dynamic_batching"));
        let fixed = triton_config("reid", &tao_pre(), 256, Some(4));
        assert!(fixed.contains("max_batch_size: 0") && fixed.contains("dims: [ 4, 256 ]"));
        assert!(!fixed.contains("dynamic_batching"));
    }
}
