//! Export of every native architecture to ONNX, proven on real images of the bundled CUHK03
//! sample: ONNX Runtime's features equal Burn's within 1e-4 (fp32), dynamic batches 1 and 7 give
//! the same per-image features, the pre-processing travels in the metadata, fp16 keeps the
//! cosine ≥ 0.999 at about half the size, INT8 (QDQ, calibrated three ways) keeps the cosine
//! ≥ 0.95 at under half the size (the float head included), and a network ONNX cannot match is refused.

use burn::prelude::*;
use reid_config::Spec;
use reid_data::Preprocessor;
use reid_data::dataset::list_images;
use reid_export::{CalibrationMethod, CalibrationOptions, ExportOptions, WeightType, export};
use reid_modeling::native::checkpoint::{self, CheckpointHeader, Sections};
use reid_modeling::native::net::{NetConfig, ReidNet};
use reid_modeling::{Embedder, OnnxModel};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn images() -> Vec<PathBuf> {
    list_images(&repo().join("assets/sample/cuhk03-mini/query")).unwrap()
}

/// A checkpoint of `backbone` whose BatchNorm statistics are not the defaults: two training
/// forwards on random batches move them.
fn checkpoint(dir: &Path, backbone: &str, extra: &str) -> (PathBuf, NetConfig) {
    let spec = Spec::from_yaml_str(
        &format!(
            "model: {{backbone: {backbone}, input_height: 64, input_width: 32, {extra}}}\n\
             dataset: {{num_classes: 16}}"
        ),
        "test",
        &[],
    )
    .unwrap();
    let cfg = NetConfig::from_spec(&spec).unwrap();
    let ad = Device::flex().autodiff();
    ad.seed(3);
    let net = ReidNet::new(&cfg, &ad);
    for _ in 0..2 {
        let x = Tensor::<4>::random(
            [8, 3, 64, 32],
            burn::tensor::Distribution::Normal(0.5, 2.0),
            &ad,
        );
        let _ = net.forward_train(x);
    }
    let path = dir.join(format!("{backbone}.ckpt"));
    let header = CheckpointHeader {
        net: cfg.clone(),
        epoch: 1,
    };
    checkpoint::save(&path, &header, &net.valid(), &Sections::new(), None).unwrap();
    (path, cfg)
}

fn options(weights: WeightType) -> ExportOptions {
    ExportOptions {
        weights,
        batch: None,
        check_images: images(),
        threads: 2,
        calibration: None,
        key: None,
        seal: false,
    }
}

fn embed(model: &mut OnnxModel, pre: &Preprocessor, paths: &[PathBuf]) -> Vec<f32> {
    let batch = pre.load_batch(paths);
    model
        .embed(&batch.tensor, batch.ok.len(), pre.height, pre.width)
        .unwrap()
        .data
}

#[test]
fn every_architecture_exports_exactly_with_a_dynamic_batch() {
    let dir = tempfile::tempdir().unwrap();
    for (backbone, extra) in [
        ("mobilenet_v2", "feat_dim: 1280, neck_feat: after"),
        ("osnet_x0_25", "feat_dim: 512, neck_feat: after"),
        (
            "resnet_18",
            "feat_dim: 128, neck_feat: after, last_stride: 1",
        ),
        (
            "resnet_50",
            "feat_dim: 2048, neck_feat: before, last_stride: 2",
        ),
        (
            "swin_tiny_patch4_window7_224",
            "feat_dim: 256, neck_feat: after",
        ),
    ] {
        let (ckpt, cfg) = checkpoint(dir.path(), backbone, extra);
        let onnx = dir.path().join(format!("{backbone}.onnx"));
        let report = export(&ckpt, &onnx, &options(WeightType::Fp32)).unwrap();
        assert!(
            !report.synthetic_check && report.checked_images == 8,
            "{report:?}"
        );
        assert!(report.max_abs_diff <= 1e-4, "{backbone}: {report:?}");
        assert_eq!(report.feat_dim, cfg.feat_dim);

        let mut model = OnnxModel::open(&onnx, 2, None).unwrap();
        assert_eq!(model.preprocessor(), Some(cfg.preprocessor()), "{backbone}");
        let pre = cfg.preprocessor();
        let paths: Vec<PathBuf> = images().into_iter().take(7).collect();
        let seven = embed(&mut model, &pre, &paths);
        for (i, path) in paths.iter().enumerate() {
            let one = embed(&mut model, &pre, std::slice::from_ref(path));
            let row = &seven[i * cfg.feat_dim..(i + 1) * cfg.feat_dim];
            let diff = one
                .iter()
                .zip(row)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                diff <= 1e-5,
                "{backbone}: image {i} batch 1 vs 7 differ by {diff}"
            );
        }
    }
}

#[test]
fn fp16_weights_halve_the_file_and_keep_the_features() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _) = checkpoint(dir.path(), "resnet_18", "feat_dim: 512");
    let fp32 = export(
        &ckpt,
        &dir.path().join("a.onnx"),
        &options(WeightType::Fp32),
    )
    .unwrap();
    let fp16 = export(
        &ckpt,
        &dir.path().join("b.onnx"),
        &options(WeightType::Fp16),
    )
    .unwrap();
    assert!(fp16.min_cosine >= 0.999, "{fp16:?}");
    let ratio = fp16.bytes as f64 / fp32.bytes as f64;
    assert!((0.45..0.6).contains(&ratio), "fp16/fp32 size {ratio}");
}

#[test]
fn a_fixed_batch_is_honoured_and_bad_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _) = checkpoint(dir.path(), "mobilenet_v2", "feat_dim: 256");
    let onnx = dir.path().join("fixed.onnx");
    let opts = ExportOptions {
        batch: Some(4),
        ..options(WeightType::Fp32)
    };
    let report = export(&ckpt, &onnx, &opts).unwrap();
    assert!(!report.dynamic_batch && report.max_abs_diff <= 1e-4);
    assert_eq!(
        OnnxModel::open(&onnx, 1, None).unwrap().max_batch(),
        Some(4)
    );

    let err = export(&dir.path().join("none.ckpt"), &onnx, &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("none.ckpt"), "{err}");
}

#[test]
fn int8_exports_are_quantized_calibrated_and_close_to_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = list_images(&repo().join("assets/sample/cuhk03-mini/bounding_box_test")).unwrap();
    // Largest int8/fp32 file size: OSNet x0.25 keeps its 512×128 fc embedding (a third of its
    // weights) and its channel gates in float, like every network's head.
    for (backbone, extra, max_ratio) in [
        ("mobilenet_v2", "feat_dim: 256, neck_feat: after", 0.45),
        ("osnet_x0_25", "feat_dim: 512, neck_feat: after", 0.75),
        (
            "resnet_18",
            "feat_dim: 512, neck_feat: before, last_stride: 1",
            0.45,
        ),
    ] {
        let (ckpt, _) = checkpoint(dir.path(), backbone, extra);
        let fp32 = export(
            &ckpt,
            &dir.path().join("fp32.onnx"),
            &options(WeightType::Fp32),
        )
        .unwrap();
        for method in [
            CalibrationMethod::Minmax,
            CalibrationMethod::Percentile,
            CalibrationMethod::Entropy,
        ] {
            let onnx = dir.path().join(format!("{backbone}_{method:?}.onnx"));
            let opts = ExportOptions {
                calibration: Some(CalibrationOptions {
                    images: gallery.clone(),
                    batch_size: 8,
                    method,
                }),
                ..options(WeightType::Int8)
            };
            let report = export(&ckpt, &onnx, &opts).unwrap();
            println!("{backbone} {method:?}: {report:?}");
            let cal = report.calibration.as_ref().unwrap();
            assert_eq!(cal.images, gallery.len());
            assert!(
                report.min_cosine >= 0.95,
                "{backbone} {method:?}: {report:?}"
            );
            let ratio = report.bytes as f64 / fp32.bytes as f64;
            assert!(ratio < max_ratio, "{backbone}: int8/fp32 size {ratio}");
            let graph = std::fs::read(&onnx).unwrap();
            let count = |op: &[u8]| graph.windows(op.len()).filter(|w| *w == op).count();
            assert!(
                count(b"QuantizeLinear") >= cal.activations,
                "every calibrated activation is quantised"
            );
        }
    }
    let opts = ExportOptions {
        calibration: Some(CalibrationOptions {
            images: vec![repo().join("README.md")],
            batch_size: 8,
            method: CalibrationMethod::Minmax,
        }),
        ..options(WeightType::Int8)
    };
    let (ckpt, _) = checkpoint(dir.path(), "resnet_18", "feat_dim: 64");
    let err = export(&ckpt, &dir.path().join("x.onnx"), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("none of the 1 calibration images"), "{err}");
}
