//! Training-step speed: `cargo bench -p reid-engine --bench train_step [-- CASE]` times
//! forward + BoT losses (label-smoothed CE + batch-hard triplet) + backward + Adam step of the
//! native network on Burn's `flex` CPU backend, on random P×K batches, one case per child
//! process so each peak RSS is its own: ResNet50 (last stride 1, BNNeck) at 256×128 batch 32 —
//! the reference —, MobileNetV2 at 256×128 b32 and 128×64 b64 (the CPU run), OSNet x0.25
//! at 256×128 b64 (the fine-tuning run) and Swin-T at TAO's 384×128 (batch 16). When
//! the Python of `TORCH_PY` (default `.venv/bin/python`) has torch + torchvision,
//! benches/torch_train_step.py measures the same cases in PyTorch on the same threads. Writes
//! benches/results/train_step.json (cases not run keep their last results).

use burn::prelude::*;
use reid_config::Spec;
use reid_engine::train::Learner;
use reid_modeling::native::backbone::Backbone;
use reid_modeling::native::net::NetConfig;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A benchmark case: name, backbone, input height, width, batch.
type Case = (&'static str, &'static str, u32, u32, usize);

const CASES: &[Case] = &[
    ("resnet50_256x128_b32", "resnet_50", 256, 128, 32),
    ("mobilenet_v2_256x128_b32", "mobilenet_v2", 256, 128, 32),
    ("mobilenet_v2_128x64_b64", "mobilenet_v2", 128, 64, 64),
    ("osnet_x0_25_256x128_b64", "osnet_x0_25", 256, 128, 64),
    (
        "swin_tiny_384x128_b16",
        "swin_tiny_patch4_window7_224",
        384,
        128,
        16,
    ),
];
const WARMUP: usize = 2;
const TIMED: usize = 4;
const THREADS: usize = 2;
const NUM_CLASSES: usize = 751;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(case) = args.iter().find_map(|a| a.strip_prefix("child=")) {
        // The allocator policy of the `reid` binary.
        reid_engine::memory::keep_freed_memory();
        println!("{}", run_case(case));
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let mut results = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| args.is_empty() || args.iter().any(|a| a == c.0))
    {
        let out = Command::new(&exe)
            .arg(format!("child={}", case.0))
            .output()
            .expect("bench child runs");
        let line = String::from_utf8_lossy(&out.stdout);
        let burn: Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| {
            panic!(
                "{} failed: {}",
                case.0,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        eprintln!("burn flex {}: {burn}", case.0);
        let torch = torch_case(case);
        eprintln!("pytorch   {}: {torch}", case.0);
        let ratio = burn["img_per_s"]
            .as_f64()
            .zip(torch["img_per_s"].as_f64())
            .map(|(b, t)| b / t);
        results.push(json!({
            "case": case.0,
            "burn_flex": burn,
            "pytorch": torch,
            "burn_over_pytorch": ratio,
        }));
    }
    let file = repo().join("benches/results/train_step.json");
    // Cases not run this time keep their last results.
    let previous: Vec<Value> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|d| d["results"].as_array().cloned())
        .unwrap_or_default();
    for old in previous.into_iter().rev() {
        if !results.iter().any(|r| r["case"] == old["case"]) {
            results.insert(0, old);
        }
    }
    results.sort_by_key(|r| CASES.iter().position(|c| r["case"] == c.0));
    let doc = json!({
        "what": "one training step: forward + CE (label smoothing 0.1) + batch-hard triplet + backward + Adam",
        "threads": THREADS,
        "build": if cfg!(debug_assertions) {
            "dev profile (dependencies at opt-level 3 without debug assertions)"
        } else {
            "release"
        },
        "warmup_steps": WARMUP,
        "timed_steps": TIMED,
        "results": results,
    });
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    eprintln!("written {}", file.display());
}

fn run_case(name: &str) -> Value {
    let &(_, backbone, h, w, batch) = CASES.iter().find(|c| c.0 == name).expect("known case");
    rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build_global()
        .expect("fresh process");
    let kind: reid_config::BackboneKind = serde_yaml::from_str(backbone).expect("native backbone");
    let feat_dim = Backbone::channels(kind);
    let spec = Spec::from_yaml_str(
        &format!(
            "model: {{backbone: {backbone}, last_stride: 1, input_height: {h}, input_width: {w}, \
             label_smooth: true, no_margin: false, feat_dim: {feat_dim}}}\n\
             dataset: {{num_classes: {NUM_CLASSES}, sampler: softmax_triplet}}\n\
             train: {{optim: {{name: Adam, base_lr: 0.00035}}}}"
        ),
        "bench",
        &[],
    )
    .expect("bench spec");
    let cfg = NetConfig::from_spec(&spec).expect("native backbone");
    let ad = Device::flex().autodiff();
    let mut learner = Learner::new(&spec, &cfg, &ad);
    let (h, w) = (h as usize, w as usize);
    let x: Vec<f32> = (0..batch * 3 * h * w)
        .map(|i| ((i as f32) * 0.37).sin())
        .collect();
    // P×K with K = 4 images per identity.
    let y: Vec<i64> = (0..batch).map(|i| (i / 4) as i64).collect();
    let mut times = Vec::new();
    for i in 0..WARMUP + TIMED {
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [batch, 3, h, w]), &ad);
        let yt = Tensor::<1, Int>::from_data(TensorData::new(y.clone(), [batch]), &ad);
        let started = Instant::now();
        learner = learner.step(xt, yt, 3.5e-4).expect("finite loss").0;
        if i >= WARMUP {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    json!({
        "seconds_per_step": times,
        "img_per_s": batch as f64 / mean,
        "peak_rss_bytes": reid_engine::bench::peak_rss_bytes(),
    })
}

/// The same case in PyTorch, when the set-up's Python has it.
fn torch_case(case: &Case) -> Value {
    let python = std::env::var_os("TORCH_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    let out = Command::new(&python)
        .arg(repo().join("benches/torch_train_step.py"))
        .args([
            case.1.to_owned(),
            case.2.to_string(),
            case.3.to_string(),
            case.4.to_string(),
            format!("--threads={THREADS}"),
            format!("--warmup={WARMUP}"),
            format!("--timed={TIMED}"),
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| json!({ "error": e.to_string() }))
        }
        Ok(o) => json!({
            "skipped": String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("failed").to_owned()
        }),
        Err(e) => json!({ "skipped": format!("{}: {e}", python.display()) }),
    }
}
