//! Native (Burn) networks: ImageNet weights load by torchvision name and compute what an
//! independent numpy MobileNetV2 computes; a torchvision Swin state dict loads and reproduces
//! torchvision's output; checkpoints round-trip bit for bit and bad files are clear errors.

use burn::prelude::*;
use reid_config::{DeviceKind, NeckFeat, Spec};
use reid_modeling::native::backbone::Backbone;
use reid_modeling::native::checkpoint::{self, CheckpointHeader, Sections};
use reid_modeling::native::net::{NetConfig, ReidNet};
use reid_modeling::native::pretrained::{load_backbone, load_weights};
use reid_modeling::native::swin::{Swin, SwinSize};
use reid_modeling::{Embedder, ModelKey, NativeModel, open_model};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Says why a test is skipped; under CI (`CI=true`) missing data or tools fail it instead.
fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{reason}: required when CI=true"
    );
    eprintln!("skipped: {reason}");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pretrained(ext: &str) -> Option<PathBuf> {
    let p = repo().join(format!(
        "../shared/data/models/pretrained/mobilenet_v2_imagenet_features.{ext}"
    ));
    if p.is_file() {
        Some(p)
    } else {
        skip(&format!("{} not found", p.display()));
        None
    }
}

/// A MobileNetV2 network whose embedding is the pooled 1280-d backbone output.
fn config(num_classes: usize) -> NetConfig {
    let spec = Spec::from_yaml_str(
        "model: {backbone: mobilenet_v2, last_stride: 2, feat_dim: 1280, neck_feat: before}\n",
        "test",
        &[format!("dataset.num_classes={num_classes}")],
    )
    .unwrap();
    NetConfig::from_spec(&spec).unwrap()
}

fn input(n: usize, h: usize, w: usize) -> Vec<f32> {
    (0..n * 3 * h * w)
        .map(|i| ((i as f32) * 0.37).sin() * 1.5)
        .collect()
}

fn embed(net: &ReidNet, x: &[f32], shape: [usize; 4], device: &Device) -> Vec<f32> {
    let t = Tensor::<4>::from_data(TensorData::new(x.to_vec(), shape), device);
    net.embed(t, NeckFeat::Before)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn imagenet_weights_load_completely_from_safetensors_and_pytorch() {
    let (Some(st), Some(pt)) = (pretrained("safetensors"), pretrained("pt")) else {
        return;
    };
    let device = Device::flex();
    let mut a = ReidNet::new(&config(10), &device);
    let report = load_backbone(&mut a, &st).unwrap();
    assert_eq!(report.applied, 260);
    assert!(
        report.missing.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    let mut b = ReidNet::new(&config(10), &device);
    let report = load_backbone(&mut b, &pt).unwrap();
    assert_eq!(
        (report.applied, report.missing.len(), report.unused.len()),
        (260, 0, 0)
    );
    let x = input(1, 64, 32);
    assert_eq!(
        embed(&a, &x, [1, 3, 64, 32], &device),
        embed(&b, &x, [1, 3, 64, 32], &device)
    );
}

#[test]
fn mobilenet_v2_matches_an_independent_numpy_implementation() {
    let Some(st) = pretrained("safetensors") else {
        return;
    };
    let py = repo().join(".venv/bin/python");
    if !py.is_file() {
        skip(&format!("{} not found", py.display()));
        return;
    }
    let device = Device::flex();
    let mut net = ReidNet::new(&config(10), &device);
    load_backbone(&mut net, &st).unwrap();
    let (n, h, w) = (2, 96, 48);
    let x = input(n, h, w);
    let ours = embed(&net, &x, [n, 3, h, w], &device);
    let dir = tempfile::tempdir().unwrap();
    let (xin, yout) = (dir.path().join("x.f32"), dir.path().join("y.f32"));
    std::fs::write(
        &xin,
        x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
    )
    .unwrap();
    let status = Command::new(py)
        .arg(repo().join("scripts/mobilenet_v2_reference.py"))
        .arg(&st)
        .arg(&xin)
        .args([n.to_string(), h.to_string(), w.to_string()])
        .arg(&yout)
        .status()
        .unwrap();
    assert!(status.success());
    let reference: Vec<f32> = std::fs::read(&yout)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(reference.len(), ours.len());
    let max_diff = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let scale = reference.iter().map(|v| v.abs()).fold(0.0, f32::max);
    assert!(scale > 0.1, "reference output is degenerate");
    assert!(max_diff < 1e-4, "max |burn − numpy| = {max_diff}");
}

#[test]
fn checkpoints_round_trip_bit_for_bit_and_carry_their_preprocessing() {
    let device = Device::flex();
    let cfg = config(7);
    let net = ReidNet::new(&cfg, &device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/model.ckpt");
    let header = CheckpointHeader {
        net: cfg.clone(),
        epoch: 3,
    };
    let sections = Sections::from([("notes".to_owned(), b"kept".to_vec())]);
    checkpoint::save(&path, &header, &net, &sections, None).unwrap();
    let (read, loaded, read_sections) = checkpoint::load(&path, &device, None).unwrap();
    assert_eq!(read, header);
    assert_eq!(read_sections, sections);
    let x = input(2, 64, 32);
    let (a, b) = (
        embed(&net, &x, [2, 3, 64, 32], &device),
        embed(&loaded, &x, [2, 3, 64, 32], &device),
    );
    assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));

    let mut model = NativeModel::open(&path, device, None).unwrap();
    assert_eq!(model.input_size(), (Some(256), Some(128)));
    assert_eq!(model.preprocessor(), Some(cfg.preprocessor()));
    let f = model.embed(&input(3, 256, 128), 3, 256, 128).unwrap();
    assert_eq!((f.len(), f.dim), (3, 1280));

    // Sealed with a key: the same model opens with the key only.
    let key = ModelKey::new("k3y").unwrap();
    let sealed = dir.path().join("sealed.ckpt");
    checkpoint::save(&sealed, &header, &net, &sections, Some(&key)).unwrap();
    let mut opened = open_model(&sealed, 1, DeviceKind::Cpu, Some(&key)).unwrap();
    let g = opened.embed(&input(3, 256, 128), 3, 256, 128).unwrap();
    assert_eq!(f.data, g.data);
    let err = open_model(&sealed, 1, DeviceKind::Cpu, None).err().unwrap();
    assert!(err.to_string().contains("give its key with -k"), "{err}");
}

#[test]
fn damaged_checkpoints_are_clear_errors() {
    let device = Device::flex();
    let cfg = config(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.ckpt");
    checkpoint::save(
        &path,
        &CheckpointHeader { net: cfg, epoch: 0 },
        &ReidNet::new(&config(5), &device),
        &Sections::new(),
        None,
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::load(&cut, &device, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cut.ckpt"), "{err}");
    let onnx = repo().join("assets/models/person-reidentification-retail-0267-eps.onnx");
    let renamed = dir.path().join("onnx.ckpt");
    std::fs::copy(onnx, &renamed).unwrap();
    let err = checkpoint::load(&renamed, &device, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a reid checkpoint"), "{err}");
    let err = checkpoint::load(&dir.path().join("none.ckpt"), &device, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}

/// assets/models/fixtures/make_swin_fixture.py: torchvision's Swin (seeded weights, torchvision
/// names) and its output map on a fixed 256×128 input.
#[test]
fn a_torchvision_swin_state_dict_loads_and_computes_what_torchvision_computes() {
    let dir = repo().join("assets/models/fixtures");
    let device = Device::flex();
    let size = SwinSize {
        embed_dim: 8,
        depths: [2, 2, 2, 1],
        heads: [1, 2, 2, 4],
    };
    let mut backbone = Backbone::Swin(Swin::new(size, &device));
    let report = load_weights(&mut backbone, &dir.join("swin_torchvision_fixture.pth")).unwrap();
    assert!(report.missing.is_empty(), "{report:?}");
    assert_eq!(report.unused, ["head.bias", "head.weight"], "{report:?}");
    let n = 2 * 3 * 256 * 128;
    let x: Vec<f32> = (0..n).map(|i| (i as f64 * 0.37).sin() as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(x, [2, 3, 256, 128]), &device);
    let out = backbone.forward(x);
    assert_eq!(out.dims(), [2, 64, 8, 4]);
    let ours = out.into_data().try_to_vec::<f32>().unwrap();
    let bytes = std::fs::read(dir.join("swin_torchvision_fixture.out.f32")).unwrap();
    let theirs: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("max |reid − torchvision| = {diff}");
    assert!(diff < 1e-4, "max |reid − torchvision| = {diff}");
}

/// Largest |a − b| over the largest |b|.
fn relative_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}

/// torchreid's OSNet x0.25 (MSMT17) from its ONNX export, BatchNorm folded: every layer loads,
/// the Burn network computes what ONNX Runtime computes on real crops, calibration keeps that
/// function and makes training-mode batches normalise like the trained network.
#[test]
fn torchreid_osnet_from_onnx_computes_what_onnx_runtime_computes() {
    let onnx = repo().join("../shared/data/models/osnet_x0_25_msmt17.onnx");
    if !onnx.is_file() {
        skip(&format!("{} not found", onnx.display()));
        return;
    }
    let spec = Spec::from_yaml_str(
        "model: {backbone: osnet_x0_25, feat_dim: 512, neck_feat: before}\n",
        "test",
        &["dataset.num_classes=10".into()],
    )
    .unwrap();
    let cfg = NetConfig::from_spec(&spec).unwrap();
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let mut net = ReidNet::new(&cfg, &ad);
    let report = load_backbone(&mut net, &onnx).unwrap();
    assert_eq!(report.applied, 153, "{report:?}");
    assert!(
        report.missing.is_empty() && report.unused.is_empty() && report.needs_calibration,
        "{report:?}"
    );

    let pre = cfg.preprocessor();
    let paths =
        reid_data::dataset::list_images(&repo().join("assets/sample/cuhk03-mini/query")).unwrap();
    let batch = pre.load_batch(&paths[..8]);
    let shape = [8, 3, pre.height as usize, pre.width as usize];
    let mut runtime = reid_modeling::OnnxModel::open(&onnx, 2, None).unwrap();
    let theirs = runtime
        .embed(&batch.tensor, 8, pre.height, pre.width)
        .unwrap()
        .data;
    let ours = embed(&net.valid(), &batch.tensor, shape, &device);
    let diff = relative_diff(&ours, &theirs);
    eprintln!("OSNet: max |reid − ONNX Runtime| / max |ONNX Runtime| = {diff}");
    assert!(diff < 1e-4, "{diff}");

    // Training mode normalises by the batch: far off before calibration, the same after. (A
    // training step also moves the running statistics: calibrate an independent copy.)
    let train_features = |net: &ReidNet| {
        let x = Tensor::<4>::from_data(TensorData::new(batch.tensor.clone(), shape), &ad);
        let (features, _) = net.forward_train(x);
        features.into_data().try_into_vec::<f32>().unwrap()
    };
    let mut plain = net.valid();
    let before = relative_diff(&train_features(&net), &theirs);
    let Backbone::OsNet(osnet) = &mut plain.backbone else {
        unreachable!("osnet_x0_25 builds an OSNet")
    };
    let x = Tensor::<4>::from_data(TensorData::new(batch.tensor.clone(), shape), &device);
    osnet.calibrate(x);
    let net = plain.train();
    let after_eval = relative_diff(&embed(&net.valid(), &batch.tensor, shape, &device), &theirs);
    let after_train = relative_diff(&train_features(&net), &theirs);
    eprintln!("training mode vs ONNX Runtime: {before} before calibration, {after_train} after");
    assert!(
        after_eval < 1e-4,
        "calibration changed the function: {after_eval}"
    );
    assert!(before > 0.1, "{before}");
    assert!(after_train < 1e-3, "{after_train}");
}
