//! Helpers shared by the `reid` binary's integration tests: locating the repository, the shared
//! data and the Python set-up (missing ones fail under CI), and running the binary.
#![allow(dead_code)] // each test crate uses its own subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Says why a test is skipped; under CI (`CI=true`) missing data or tools fail it instead.
pub fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{reason}: required when CI=true"
    );
    eprintln!("skipped: {reason}");
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn shared_data() -> Option<PathBuf> {
    let d = repo().join("../shared/data");
    if d.join("cuhk03-market").is_dir() {
        Some(d)
    } else {
        skip(&format!("{} not found", d.display()));
        None
    }
}

pub fn python() -> Option<PathBuf> {
    let p = repo().join(".venv/bin/python");
    if p.is_file() {
        Some(p)
    } else {
        skip(&format!("{} not found (run scripts/setup.sh)", p.display()));
        None
    }
}

/// The JSON a Python script (`py ARGS…`) prints; its stderr when it fails.
pub fn python_json<S: AsRef<std::ffi::OsStr>>(py: &Path, args: &[S]) -> Value {
    let out = Command::new(py).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn reid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reid"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("reid runs")
}

pub fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reid failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "reid should have failed");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// One JSON value per line (status.jsonl, tracks.jsonl).
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
