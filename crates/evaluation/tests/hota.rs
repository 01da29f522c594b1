//! reid's tracking metrics against TrackEval: `tests/fixtures/trackeval_mot.json`, written by
//! `scripts/trackeval_fixture.py` with TrackEval's MOTChallenge loader and its HOTA, CLEAR and
//! Identity metrics, on hand-made cases (perfect, id switch, fragmentation, misses and false
//! positives, a crowd, empty frames, tied tracks and IoUs exactly at the thresholds, empty sides),
//! seeded random sequences and the labelled vtest stretch against a perturbed copy of itself.
//! Every case goes through MOTChallenge text files and `read_mot_file`, then `evaluate_mot` without
//! ignore regions; every number TrackEval reports (per-threshold HOTA arrays included) must be in
//! reid's JSON under the same key, within 1e-6.

use reid_evaluation::hota::alphas;
use reid_evaluation::mot::{MotBox, evaluate_mot, read_mot_file};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

const TOL: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    frames: Vec<usize>,
    /// `[frame, id, x, y, w, h]`.
    gt: Vec<[f64; 6]>,
    tracker: Vec<[f64; 6]>,
    trackeval: BTreeMap<String, Value>,
}

fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trackeval_mot.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The rows as a MOTChallenge file, read back by reid's reader.
fn through_mot_file(rows: &[[f64; 6]]) -> Vec<MotBox> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for r in rows {
        writeln!(
            file,
            "{},{},{},{},{},{},1,-1,-1,-1",
            r[0], r[1], r[2], r[3], r[4], r[5]
        )
        .unwrap();
    }
    file.flush().unwrap();
    read_mot_file(file.path()).unwrap()
}

/// `(metric, |reid − TrackEval|)` for every number TrackEval gave, per-threshold ones named
/// `per_alpha.NAME`.
fn differences(case: &Case) -> Vec<(String, f64)> {
    let frames: BTreeSet<usize> = case.frames.iter().copied().collect();
    let gt = through_mot_file(&case.gt);
    let hyp = through_mot_file(&case.tracker);
    let ours = serde_json::to_value(evaluate_mot(&frames, &gt, &hyp, &[], 0.5)).unwrap();
    let number = |v: &Value, what: &str| {
        v.as_f64()
            .unwrap_or_else(|| panic!("{}: {what} is {v} (NaN or missing?)", case.name))
    };
    let mut out = Vec::new();
    for (key, theirs) in &case.trackeval {
        if key == "per_alpha" {
            for (field, values) in theirs.as_object().unwrap() {
                let mine = ours["per_alpha"][field]
                    .as_array()
                    .unwrap_or_else(|| panic!("{}: reid has no per_alpha.{field}", case.name));
                let values = values.as_array().unwrap();
                assert_eq!(mine.len(), values.len(), "{}: per_alpha.{field}", case.name);
                let worst = mine
                    .iter()
                    .zip(values)
                    .map(|(m, t)| (number(m, field) - number(t, field)).abs())
                    .fold(0.0, f64::max);
                out.push((format!("per_alpha.{field}"), worst));
            }
        } else {
            let mine = number(&ours[key], key);
            out.push((key.clone(), (mine - number(theirs, key)).abs()));
        }
    }
    out
}

#[test]
fn every_metric_equals_trackeval_on_every_case() {
    let fixture = fixture();
    assert!(
        fixture.cases.len() >= 10,
        "fixture has {} cases",
        fixture.cases.len()
    );
    let mut worst: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &fixture.cases {
        for (metric, diff) in differences(case) {
            if diff > TOL {
                failures.push(format!("{}: {metric} differs by {diff:e}", case.name));
            }
            let entry = worst.entry(metric).or_insert((0.0, String::new()));
            if diff >= entry.0 {
                *entry = (diff, case.name.clone());
            }
        }
    }
    println!("max |reid − TrackEval| over {} cases:", fixture.cases.len());
    for (metric, (diff, case)) in &worst {
        println!("  {metric:<20} {diff:.3e}  ({case})");
    }
    for key in [
        "HOTA",
        "DetA",
        "AssA",
        "LocA",
        "MOTA",
        "MOTP",
        "IDF1",
        "IDSW",
        "per_alpha.HOTA",
    ] {
        assert!(worst.contains_key(key), "the fixture does not check {key}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn thresholds_are_trackevals() {
    let fixture = fixture();
    let theirs: Vec<f64> = fixture.cases[0].trackeval["per_alpha"]["alpha"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // serde_json's default float parsing may land one ulp off the number Python wrote.
    assert_eq!(theirs.len(), alphas().len());
    for (ours, theirs) in alphas().iter().zip(&theirs) {
        assert!((ours - theirs).abs() <= 1e-15, "{ours} vs {theirs}");
    }
}

#[test]
fn vtest_case_is_the_labelled_stretch() {
    let fixture = fixture();
    let case = fixture
        .cases
        .iter()
        .find(|c| c.name == "vtest_perturbed")
        .expect("a vtest case");
    let labels: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/labels/vtest/gt.txt");
    let mut truth = read_mot_file(&labels).unwrap();
    let mut written = through_mot_file(&case.gt);
    let key = |b: &MotBox| (b.frame, b.id);
    truth.sort_by_key(key);
    written.sort_by_key(key);
    assert_eq!(truth, written);
    let frames: BTreeSet<usize> = truth.iter().map(|b| b.frame).collect();
    assert_eq!(frames.into_iter().collect::<Vec<_>>(), case.frames);
}
