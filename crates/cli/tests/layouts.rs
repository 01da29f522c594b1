//! Dataset layouts end to end: real cuhk03-market crops rewritten by the test into every layout
//! (`market`, `duke`, `msmt17`, `folders`, `csv`) give the same metrics through `reid
//! evaluate`, with the layout detected and reported; data without camera ids is evaluated by
//! the same-image rule, and says so.

use reid_data::dataset::{list_images, parse_market_name};
use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;
use common::*;

/// Query identities kept (of cuhk03-market's 1001–1100), with all their gallery images.
const LAST_PID: i32 = 1030;

/// A labelled crop of the subset.
struct Crop {
    file: PathBuf,
    pid: i32,
    camid: u32,
}

fn subset(split: &Path) -> Vec<Crop> {
    list_images(split)
        .unwrap()
        .into_iter()
        .filter_map(|file| {
            let (pid, camid) = parse_market_name(&file).unwrap();
            (pid <= LAST_PID).then_some(Crop { file, pid, camid })
        })
        .collect()
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

fn name(c: &Crop) -> String {
    c.file.file_name().unwrap().to_string_lossy().into_owned()
}

/// Writes `crops` as split `split` of a dataset in `layout` below `root`; returns the path to
/// give as `evaluate.*_dataset`.
fn write_split(root: &Path, layout: &str, split: &str, crops: &[Crop], cameras: bool) -> PathBuf {
    let dir = root.join(layout).join(split);
    match layout {
        "market" => crops.iter().for_each(|c| copy(&c.file, &dir.join(name(c)))),
        "duke" => {
            for (i, c) in crops.iter().enumerate() {
                copy(
                    &c.file,
                    &dir.join(format!("{:04}_c{}_f{i:07}.jpg", c.pid, c.camid)),
                );
            }
        }
        "msmt17" => {
            let mut list = String::new();
            let base = root.join(layout).join("test");
            // Query and gallery share MSMT17's test folder: number their images apart.
            let first = if split == "query" { 0 } else { 500 };
            for (i, c) in crops.iter().enumerate() {
                let n = first + i;
                let rel = format!(
                    "{0:04}/{0:04}_{n:03}_{1:02}_0303morning_0015_0.jpg",
                    c.pid, c.camid
                );
                copy(&c.file, &base.join(&rel));
                list += &format!("{rel} {}\n", c.pid);
            }
            let file = root.join(layout).join(format!("list_{split}.txt"));
            std::fs::write(&file, list).unwrap();
            return file;
        }
        "folders" => {
            for c in crops {
                let id = dir.join(c.pid.to_string());
                let at = if cameras {
                    id.join(format!("c{}", c.camid))
                } else {
                    id
                };
                copy(&c.file, &at.join(name(c)));
            }
        }
        "csv" => {
            let mut csv = "path,pid,camid\n".to_owned();
            for (i, c) in crops.iter().enumerate() {
                let rel = format!("{split}/img_{i:05}.jpg");
                copy(&c.file, &root.join(layout).join(&rel));
                csv += &format!("{rel},{},{}\n", c.pid, c.camid);
            }
            let file = root.join(layout).join(format!("{split}.csv"));
            std::fs::write(&file, csv).unwrap();
            return file;
        }
        other => panic!("unknown layout {other}"),
    }
    dir
}

/// `reid evaluate` of the bundled ONNX model on (query, gallery); its results.json and stdout.
fn evaluate(out: &Path, query: &Path, gallery: &Path) -> (Value, String) {
    let stdout = ok(&reid(&[
        "evaluate",
        "-e",
        "specs/sample.yaml",
        "-r",
        out.to_str().unwrap(),
        &format!("evaluate.query_dataset={}", query.display()),
        &format!("evaluate.test_dataset={}", gallery.display()),
        "evaluate.num_sampled_matches=0",
    ]));
    (read_json(&out.join("evaluate/results.json")), stdout)
}

#[test]
fn every_dataset_layout_gives_the_same_metrics() {
    let Some(data) = shared_data() else { return };
    let src = data.join("cuhk03-market");
    let (query, gallery) = (
        subset(&src.join("query")),
        subset(&src.join("bounding_box_test")),
    );
    assert_eq!(query.len(), 60, "two query crops per identity");
    let dir = tempfile::tempdir().unwrap();
    let mut reference: Option<Value> = None;
    for layout in ["market", "duke", "msmt17", "folders", "csv"] {
        let q = write_split(dir.path(), layout, "query", &query, true);
        let g = write_split(dir.path(), layout, "gallery", &gallery, true);
        let (r, _) = evaluate(&dir.path().join(format!("out-{layout}")), &q, &g);
        assert_eq!(r["dataset"]["layout"]["query"], layout, "{r}");
        assert_eq!(r["dataset"]["layout"]["test"], layout, "{r}");
        assert_eq!(r["camera_rule"], "cross_camera", "{layout}");
        assert_eq!(r["num_query"], 60, "{layout}");
        assert_eq!(r["num_gallery"].as_u64().unwrap() as usize, gallery.len());
        match &reference {
            None => {
                assert!(r["mAP"].as_f64().unwrap() > 0.3, "{r}");
                reference = Some(r);
            }
            Some(m) => {
                for key in [
                    "/mAP",
                    "/rank1",
                    "/rank5",
                    "/mINP",
                    "/num_valid_query",
                    "/verification/eer",
                ] {
                    let (a, b) = (
                        r.pointer(key).unwrap().as_f64().unwrap(),
                        m.pointer(key).unwrap().as_f64().unwrap(),
                    );
                    assert!((a - b).abs() < 1e-9, "{layout} {key}: {a} vs market {b}");
                }
            }
        }
    }
}

#[test]
fn data_without_camera_ids_is_ranked_by_the_same_image_rule() {
    let Some(data) = shared_data() else { return };
    let src = data.join("cuhk03-market");
    let (query, gallery) = (
        subset(&src.join("query")),
        subset(&src.join("bounding_box_test")),
    );
    let dir = tempfile::tempdir().unwrap();
    let q = write_split(dir.path(), "folders", "query", &query, false);
    let g = write_split(dir.path(), "folders", "gallery", &gallery, false);
    let (no_cams, stdout) = evaluate(&dir.path().join("out"), &q, &g);
    assert_eq!(no_cams["camera_rule"], "same_image");
    assert!(stdout.contains("same-image rule"), "{stdout}");
    // Every query keeps its positives (the cross-camera rule would have dropped them all).
    assert_eq!(no_cams["num_valid_query"], 60);
    // The same crops with their cameras: the Market rule leaves same-camera positives out,
    // so the scores differ.
    let qc = write_split(dir.path(), "market", "query", &query, true);
    let gc = write_split(dir.path(), "market", "gallery", &gallery, true);
    let (cams, _) = evaluate(&dir.path().join("out-cams"), &qc, &gc);
    assert_eq!(cams["camera_rule"], "cross_camera");
    let (a, b) = (
        no_cams["mAP"].as_f64().unwrap(),
        cams["mAP"].as_f64().unwrap(),
    );
    assert!(a > 0.0 && a != b, "same-image {a} vs cross-camera {b}");
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    list_images(dir)
        .unwrap()
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_owned())
        .collect()
}

fn ids_of(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// `reid dataset` on real crops: a folder-per-identity set is split by identity (seeded), its
/// splits counted, checked and converted to Market-1501, and the converted folders evaluate
/// exactly as the split itself; a broken set is caught by `check --strict`.
#[test]
fn dataset_split_stats_check_and_convert_on_real_crops() {
    let Some(data) = shared_data() else { return };
    let src = data.join("cuhk03-market");
    let crops: Vec<Crop> = [
        subset(&src.join("query")),
        subset(&src.join("bounding_box_test")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let people = write_split(dir.path(), "folders", "all", &crops, true);
    let split = |out: &str, seed: &str| {
        let r = dir.path().join(out);
        ok(&reid(&[
            "dataset",
            "split",
            "-r",
            r.to_str().unwrap(),
            "--from",
            people.to_str().unwrap(),
            "--seed",
            seed,
        ]));
        r.join("dataset/split")
    };
    let a = split("a", "3");
    assert_eq!(
        listing(&a.join("query")),
        listing(&split("b", "3").join("query")),
        "seeded"
    );
    assert_ne!(
        listing(&a.join("query")),
        listing(&split("c", "4").join("query"))
    );
    let (train, query, gallery) = (
        ids_of(&a.join("train")),
        ids_of(&a.join("query")),
        ids_of(&a.join("gallery")),
    );
    assert_eq!(
        train.len() + gallery.len(),
        30,
        "every identity is in train or test"
    );
    assert!(train.is_disjoint(&gallery) && query.is_subset(&gallery));

    let spec = dir.path().join("split.yaml");
    std::fs::write(
        &spec,
        format!(
            "dataset:\n  train_dataset_dir: {0}/train\n  query_dataset_dir: {0}/query\n  test_dataset_dir: {0}/gallery\n",
            a.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let tool = |action: &str, extra: &[&str]| {
        let mut args = vec![
            "dataset",
            action,
            "-e",
            spec.to_str().unwrap(),
            "-r",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        reid(&args)
    };
    ok(&tool("stats", &[]));
    let stats = read_json(&out.join("dataset/stats.json"));
    assert_eq!(
        stats[0]["identities"].as_u64().unwrap() as usize,
        train.len()
    );
    assert_eq!(
        stats[1]["images"].as_u64().unwrap() as usize,
        listing(&a.join("query")).len()
    );
    assert_eq!(stats[2]["layout"], "folders");
    assert!(
        std::fs::metadata(out.join("dataset/images_per_identity.png"))
            .unwrap()
            .len()
            > 1000
    );
    let report = ok(&tool("check", &["--strict"]));
    assert!(report.contains("problems found: 0"), "{report}");

    ok(&tool("convert", &[]));
    let market = out.join("dataset/market");
    let mapping = std::fs::read_to_string(market.join("mapping.csv")).unwrap();
    assert_eq!(
        mapping.lines().count(),
        1 + crops.len(),
        "one line per image"
    );
    let (direct, _) = evaluate(&dir.path().join("e1"), &a.join("query"), &a.join("gallery"));
    let (converted, _) = evaluate(
        &dir.path().join("e2"),
        &market.join("query"),
        &market.join("bounding_box_test"),
    );
    assert_eq!(converted["dataset"]["layout"]["query"], "market");
    for key in ["mAP", "rank1", "num_valid_query"] {
        assert_eq!(direct[key], converted[key], "{key}");
    }

    // Train = the gallery (every test identity shared), a corrupt and a tiny image.
    let bad = dir.path().join("bad.yaml");
    let broken = a
        .join("gallery")
        .join(gallery.iter().next().unwrap())
        .join("c9");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("corrupt.jpg"), b"not a jpeg").unwrap();
    image::RgbImage::new(8, 8)
        .save(broken.join("tiny.png"))
        .unwrap();
    std::fs::write(
        &bad,
        format!(
            "dataset:\n  train_dataset_dir: {0}/gallery\n  query_dataset_dir: {0}/query\n  test_dataset_dir: {0}/gallery\n",
            a.display()
        ),
    )
    .unwrap();
    let args = [
        "dataset",
        "check",
        "-e",
        bad.to_str().unwrap(),
        "-r",
        out.to_str().unwrap(),
    ];
    let report = ok(&reid(&args));
    let found = read_json(&out.join("dataset/check.json"));
    assert_eq!(
        found["shared_identities"].as_array().unwrap().len(),
        gallery.len(),
        "{report}"
    );
    assert_eq!(
        found["unreadable"].as_array().unwrap().len(),
        2,
        "corrupt.jpg in train and gallery"
    );
    assert_eq!(found["tiny"].as_array().unwrap().len(), 2);
    assert!(
        !found["duplicates"].as_array().unwrap().is_empty(),
        "train = gallery"
    );
    let err = fails(&reid(&[&args[..], &["--strict"]].concat()));
    assert!(err.contains("problems found"), "{err}");
}

/// A gallery of one person ranks but has no impostor pairs: evaluate says why verification is
/// missing and still writes its results.
#[test]
fn a_single_identity_gallery_evaluates_without_verification() {
    let Some(data) = shared_data() else { return };
    let src = data.join("cuhk03-market");
    let one = |split: &str| -> Vec<Crop> {
        subset(&src.join(split))
            .into_iter()
            .filter(|c| c.pid == 1001)
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let q = write_split(dir.path(), "market", "query", &one("query"), true);
    let g = write_split(
        dir.path(),
        "market",
        "gallery",
        &one("bounding_box_test"),
        true,
    );
    let out = dir.path().join("out");
    let run = reid(&[
        "evaluate",
        "-e",
        "specs/sample.yaml",
        "-r",
        out.to_str().unwrap(),
        &format!("evaluate.query_dataset={}", q.display()),
        &format!("evaluate.test_dataset={}", g.display()),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    ok(&run);
    assert!(stderr.contains("no verification figures"), "{stderr}");
    let r = read_json(&out.join("evaluate/results.json"));
    assert!(
        r["verification"].is_null() && r["mAP"].as_f64().unwrap() > 0.0,
        "{r}"
    );
    assert!(!out.join("evaluate/roc_curve.png").exists());
}
