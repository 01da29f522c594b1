//! End-to-end tests of the `reid` binary on real data: the bundled sample (always) and
//! `../shared/data` (skipped with a message when absent, failing under CI). Reference values
//! come from an independent Python pipeline (`scripts/reference_eval.py`: Pillow + numpy + ONNX Runtime) run
//! at test time, or from the measurements published in shared/data/README.md.

use reid_data::{Preprocessor, SetName};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::*;

/// `reid evaluate` on the bundled sample spec with results in `results` and extra overrides.
fn evaluate_sample(results: &str, overrides: &[&str]) -> Output {
    let mut args = vec!["evaluate", "-e", "specs/sample.yaml", "-r", results];
    args.extend_from_slice(overrides);
    reid(&args)
}

fn write_f32(path: &Path, values: &[f32]) {
    std::fs::write(
        path,
        values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn python_reference(py: &Path, model: &Path, query: &Path, gallery: &Path) -> Value {
    let script = repo().join("scripts/reference_eval.py");
    python_json(
        py,
        &[
            script.as_os_str(),
            "evaluate".as_ref(),
            model.as_os_str(),
            query.as_os_str(),
            gallery.as_os_str(),
        ],
    )
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.len() > 1000 && b.starts_with(b"\x89PNG"))
}

const SAMPLE_MODEL: &str = "assets/models/person-reidentification-retail-0267-eps.onnx";
const SAMPLE_QUERY: &str = "assets/sample/cuhk03-mini/query";
const SAMPLE_TEST: &str = "assets/sample/cuhk03-mini/bounding_box_test";

#[test]
fn evaluate_on_the_sample_agrees_with_the_python_reference() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let stdout = ok(&reid(&["evaluate", "-e", "specs/sample.yaml", "-r", r]));
    assert!(stdout.contains("rank-1"), "{stdout}");
    let res = read_json(&dir.path().join("evaluate/results.json"));
    let reference = python_reference(
        &py,
        &repo().join(SAMPLE_MODEL),
        &repo().join(SAMPLE_QUERY),
        &repo().join(SAMPLE_TEST),
    );
    assert_eq!(res["num_query"], 32);
    assert_eq!(res["num_gallery"], 126);
    assert_eq!(res["num_valid_query"], reference["num_valid_query"]);
    // The resize filters differ slightly (image's Triangle vs PIL's bilinear): allow one query.
    for key in ["rank1", "rank5", "mAP", "mINP"] {
        let (a, b) = (res[key].as_f64().unwrap(), reference[key].as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1.0 / 32.0 + 1e-9,
            "{key}: reid {a} vs reference {b}"
        );
    }
    assert_eq!(res["cmc"].as_array().unwrap().len(), 50);
    assert_eq!(res["re_ranking"], false);
    assert!(is_png(&dir.path().join("evaluate/cmc_curve.png")));
    assert!(is_png(&dir.path().join("evaluate/sampled_matches.png")));
}

/// Open-set verification in results.json: the documented keys, FAR targets met, thresholds
/// rising as the FAR budget grows, and the ROC picture.
#[test]
fn evaluate_reports_verification_with_a_roc_curve() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().to_str().unwrap();
    ok(&evaluate_sample(
        results,
        &["evaluate.num_sampled_matches=0"],
    ));
    let r = read_json(&dir.path().join("evaluate/results.json"));
    let v = &r["verification"];
    let eer = v["eer"].as_f64().unwrap();
    assert!(eer > 0.0 && eer < 0.5, "{v}");
    assert_eq!(v["far"], serde_json::json!([0.01, 0.001, 0.0001]));
    let achieved: Vec<f64> = serde_json::from_value(v["far_achieved"].clone()).unwrap();
    let tar: Vec<f64> = serde_json::from_value(v["tar"].clone()).unwrap();
    for (i, target) in [0.01, 0.001, 0.0001].into_iter().enumerate() {
        assert!(achieved[i] <= target, "{v}");
    }
    assert!(tar[0] >= tar[1] && tar[1] >= tar[2] && tar[0] > 0.0, "{v}");
    let t0 = v["threshold"][0].as_f64().unwrap();
    assert!(t0 > 0.0 && t0 < 2.0, "{v}");
    assert!(v["num_genuine"].as_u64().unwrap() > 0 && v["num_impostor"].as_u64().unwrap() > 0);
    assert!(is_png(&dir.path().join("evaluate/roc_curve.png")));
}

#[test]
fn evaluate_full_cuhk03_matches_the_published_sanity_figures() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = reid(&[
        "evaluate",
        "-e",
        "specs/cuhk03_omz0267.yaml",
        "-r",
        dir.path().to_str().unwrap(),
        &format!(
            "dataset.query_dataset_dir={}",
            data.join("cuhk03-market/query").display()
        ),
        &format!(
            "dataset.test_dataset_dir={}",
            data.join("cuhk03-market/bounding_box_test").display()
        ),
        &format!(
            "evaluate.checkpoint={}",
            data.join("models/person-reidentification-retail-0267-eps.onnx")
                .display()
        ),
    ]);
    ok(&out);
    let res = read_json(&dir.path().join("evaluate/results.json"));
    // shared/data/README.md (ONNX Runtime 1.32 + PIL): rank-1 45.73 %, mAP 49.30 %, 199 valid queries.
    assert_eq!(res["num_valid_query"], 199);
    let (r1, map) = (res["rank1"].as_f64().unwrap(), res["mAP"].as_f64().unwrap());
    assert!((r1 - 0.4573).abs() <= 0.01, "rank-1 {r1}");
    assert!((map - 0.4930).abs() <= 0.01, "mAP {map}");
}

#[test]
fn inference_writes_every_image_and_equals_onnxruntime_on_the_same_tensor() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("emb.json");
    let out = reid(&[
        "inference",
        "-e",
        "specs/sample.yaml",
        "-r",
        dir.path().to_str().unwrap(),
        &format!("inference.output_file={}", emb.display()),
    ]);
    ok(&out);
    let records = reid_data::features::read_embeddings(&emb).unwrap();
    let count = |set| records.iter().filter(|r| r.set == Some(set)).count();
    assert_eq!((count(SetName::Query), count(SetName::Test)), (32, 126));
    assert!(records.iter().all(|r| r.embedding.len() == 256));

    // Pre-process a few images with reid's own path and run ONNX Runtime (Python) on that tensor.
    let pick: Vec<&reid_data::EmbeddingRecord> = records.iter().step_by(23).collect();
    let spec = reid_config::Spec::load(&repo().join("specs/sample.yaml"), &[]).unwrap();
    let pre = Preprocessor::from_spec(&spec);
    let paths: Vec<PathBuf> = pick.iter().map(|r| repo().join(&r.img_path)).collect();
    let batch = pre.load_batch(&paths);
    assert_eq!(batch.ok.len(), pick.len());
    let tensor_file = dir.path().join("x.f32");
    let out_file = dir.path().join("y.f32");
    write_f32(&tensor_file, &batch.tensor);
    let status = Command::new(py)
        .arg(repo().join("scripts/reference_eval.py"))
        .arg("run")
        .arg(repo().join(SAMPLE_MODEL))
        .arg(&tensor_file)
        .args([pick.len().to_string(), "256".into(), "128".into()])
        .arg(&out_file)
        .status()
        .unwrap();
    assert!(status.success());
    let ort = read_f32(&out_file);
    assert_eq!(ort.len(), pick.len() * 256);
    let max_diff = pick
        .iter()
        .zip(ort.chunks_exact(256))
        .flat_map(|(r, o)| r.embedding.iter().zip(o).map(|(a, b)| (a - b).abs()))
        .fold(0.0f32, f32::max);
    assert!(max_diff <= 1e-4, "max |reid − onnxruntime| = {max_diff}");
}

#[test]
fn evaluate_from_an_embeddings_file_needs_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let emb = dir.path().join("emb.json");
    ok(&reid(&[
        "inference",
        "-e",
        "specs/sample.yaml",
        "-r",
        r,
        &format!("inference.output_file={}", emb.display()),
    ]));
    ok(&reid(&["evaluate", "-e", "specs/sample.yaml", "-r", r]));
    let direct = read_json(&dir.path().join("evaluate/results.json"));
    ok(&evaluate_sample(
        r,
        &[
            &format!("evaluate.features={}", emb.display()),
            "evaluate.checkpoint=does-not-exist.onnx",
        ],
    ));
    let from_file = read_json(&dir.path().join("evaluate/results.json"));
    for key in ["rank1", "rank5", "rank10", "mAP", "mINP", "num_valid_query"] {
        assert_eq!(direct[key], from_file[key], "{key}");
    }
    // As TAO's inference writes it: no "set"; the sides come from the folder names.
    let mut records = read_json(&emb);
    for r in records.as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("set");
    }
    let tao = dir.path().join("tao.json");
    std::fs::write(&tao, records.to_string()).unwrap();
    ok(&evaluate_sample(
        r,
        &[&format!("evaluate.features={}", tao.display())],
    ));
    let from_tao = read_json(&dir.path().join("evaluate/results.json"));
    for key in ["mAP", "num_query", "num_gallery"] {
        assert_eq!(direct[key], from_tao[key], "{key}");
    }
}

#[test]
fn re_ranking_and_flip_run_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let stdout = ok(&evaluate_sample(
        r,
        &["re_ranking.re_ranking=true", "model.with_flip_feature=true"],
    ));
    assert!(stdout.contains("re-ranking k1=20 k2=6"), "{stdout}");
    let res = read_json(&dir.path().join("evaluate/results.json"));
    assert_eq!(res["re_ranking"], true);
    assert_eq!(res["with_flip_feature"], true);
    assert!(res["mAP"].as_f64().unwrap() > 0.3);
    // No sampled queries asked for: no matches plot, and no error.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    ok(&evaluate_sample(r, &["evaluate.num_sampled_matches=0"]));
    assert!(!dir.path().join("evaluate/sampled_matches.png").exists());
    assert!(is_png(&dir.path().join("evaluate/cmc_curve.png")));
}

#[test]
fn bad_spec_keys_and_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let err = fails(&evaluate_sample(r, &["evaluate.chekpoint=x"]));
    assert!(err.contains("did you mean `evaluate.checkpoint`"), "{err}");
    let err = fails(&evaluate_sample(
        r,
        &["dataset.query_dataset_dir=/no/such/dir"],
    ));
    assert!(
        err.contains("/no/such/dir") && err.contains("does not exist"),
        "{err}"
    );
    let err = fails(&reid(&["evaluate", "-e", "specs/missing.yaml", "-r", r]));
    assert!(err.contains("specs/missing.yaml"), "{err}");
    let err = fails(&evaluate_sample(
        r,
        &["evaluate.checkpoint=assets/none.onnx"],
    ));
    assert!(
        err.contains("assets/none.onnx") && err.contains("does not exist"),
        "{err}"
    );
    let err = fails(&evaluate_sample(
        r,
        &["evaluate.checkpoint=specs/sample.yaml"],
    ));
    assert!(err.contains("sample.yaml"), "{err}");
}

#[test]
fn corrupt_images_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("query");
    std::fs::create_dir(&q).unwrap();
    for e in std::fs::read_dir(repo().join(SAMPLE_QUERY)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, q.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(q.join("1001_c1s1_000099_00.jpg"), b"truncated").unwrap();
    std::fs::write(q.join("holiday_photo.jpg"), b"x").unwrap();
    let out = reid(&[
        "evaluate",
        "-e",
        "specs/sample.yaml",
        "-r",
        dir.path().to_str().unwrap(),
        &format!("dataset.query_dataset_dir={}", q.display()),
    ]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1001_c1s1_000099_00.jpg") && stderr.contains("could not be read"),
        "{stderr}"
    );
    assert!(stderr.contains("holiday_photo.jpg"), "{stderr}");
    let res = read_json(&dir.path().join("evaluate/results.json"));
    assert_eq!(res["num_query"], 32);
}

#[test]
fn wrong_models_are_clear_errors() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    // A detector is not a ReID model: its fixed 352×352 input is named.
    let det = format!(
        "evaluate.checkpoint={}",
        data.join("models/FastestDet.onnx").display()
    );
    let err = fails(&evaluate_sample(r, &[&det]));
    assert!(
        err.contains("model.input_height") && err.contains("352"),
        "{err}"
    );
    // …and with the size it asks for, its output shape is refused.
    let err = fails(&evaluate_sample(
        r,
        &[&det, "model.input_height=352", "model.input_width=352"],
    ));
    assert!(
        err.contains("output") && err.contains("[1, 85, 22, 22]"),
        "{err}"
    );
    // The unpatched OMZ 0267 gives NaN in ONNX Runtime: the image is named.
    let nan = format!(
        "evaluate.checkpoint={}",
        data.join("models/person-reidentification-retail-0267.onnx")
            .display()
    );
    let err = fails(&evaluate_sample(r, &[&nan]));
    assert!(err.contains("NaN") && err.contains(".jpg"), "{err}");
}

#[test]
fn native_checkpoints_run_through_inference_and_evaluate() {
    use reid_modeling::native::{checkpoint, net, pretrained};
    let (Some(data), Some(py)) = (shared_data(), python()) else {
        return;
    };
    // An ImageNet MobileNetV2 whose embedding is its pooled 1280-d output (no training yet).
    let spec = reid_config::Spec::from_yaml_str(
        "model: {backbone: mobilenet_v2, last_stride: 2, feat_dim: 1280, neck_feat: before}\n",
        "test",
        &[],
    )
    .unwrap();
    let cfg = net::NetConfig::from_spec(&spec).unwrap();
    let device = reid_modeling::device(reid_config::DeviceKind::Cpu).unwrap();
    let mut imagenet = net::ReidNet::new(&cfg, &device);
    let weights = data.join("models/pretrained/mobilenet_v2_imagenet_features.safetensors");
    pretrained::load_backbone(&mut imagenet, &weights).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("imagenet.ckpt");
    let header = checkpoint::CheckpointHeader {
        net: cfg.clone(),
        epoch: 0,
    };
    checkpoint::save(&ckpt, &header, &imagenet, &Default::default(), None).unwrap();
    let r = dir.path().to_str().unwrap();
    let emb = dir.path().join("emb.json");
    let ckpt_arg = |section: &str| format!("{section}.checkpoint={}", ckpt.display());
    ok(&reid(&[
        "inference",
        "-e",
        "specs/sample.yaml",
        "-r",
        r,
        &ckpt_arg("inference"),
        &format!("inference.output_file={}", emb.display()),
    ]));
    let stdout = ok(&evaluate_sample(r, &[&ckpt_arg("evaluate")]));
    assert!(stdout.contains("mAP"), "{stdout}");

    // Two real crops through reid's pre-processing, then an independent numpy MobileNetV2.
    let records = reid_data::features::read_embeddings(&emb).unwrap();
    assert_eq!(records.len(), 158);
    let pick = [&records[0], &records[100]];
    let paths: Vec<PathBuf> = pick.iter().map(|r| repo().join(&r.img_path)).collect();
    let batch = cfg.preprocessor().load_batch(&paths);
    let (xin, yout) = (dir.path().join("x.f32"), dir.path().join("y.f32"));
    write_f32(&xin, &batch.tensor);
    let status = Command::new(py)
        .arg(repo().join("scripts/mobilenet_v2_reference.py"))
        .arg(&weights)
        .arg(&xin)
        .args(["2", "256", "128"])
        .arg(&yout)
        .status()
        .unwrap();
    assert!(status.success());
    let reference = read_f32(&yout);
    let ours: Vec<f32> = pick
        .iter()
        .flat_map(|r| r.embedding.iter().copied())
        .collect();
    assert_eq!(ours.len(), reference.len());
    let max_diff = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(max_diff < 1e-4, "max |reid − numpy| = {max_diff}");
}

#[test]
fn every_committed_spec_loads() {
    let mut n = 0;
    for e in std::fs::read_dir(repo().join("specs")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "yaml") {
            reid_config::Spec::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 6, "{n} specs");
}
