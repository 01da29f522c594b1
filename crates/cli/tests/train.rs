//! End-to-end tests of `reid train` on the bundled sample: status.jsonl and checkpoints, the
//! checkpoint evaluated by `reid evaluate` through the same path as training's validation,
//! resume after SIGKILL, and clear errors for bad training settings.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SPEC: &str = "specs/train_sample.yaml";

fn statuses(results: &Path) -> Vec<Value> {
    read_jsonl(&results.join("train/status.jsonl"))
}

fn train(results: &Path, overrides: &[&str]) -> std::process::Output {
    let mut args = vec!["train", "-e", SPEC, "-r", results.to_str().unwrap()];
    args.extend_from_slice(overrides);
    reid(&args)
}

fn export(results: &Path, checkpoint: &Path, overrides: &[&str]) -> std::process::Output {
    let ckpt = format!("export.checkpoint={}", checkpoint.display());
    let mut args = vec!["export", "-e", SPEC, "-r", results.to_str().unwrap(), &ckpt];
    args.extend_from_slice(overrides);
    reid(&args)
}

#[test]
fn training_writes_status_checkpoints_and_validates_like_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    ok(&train(
        dir.path(),
        &["train.num_epochs=2", "re_ranking.re_ranking=true"],
    ));
    let lines = statuses(dir.path());
    assert_eq!(lines.len(), 2);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["epoch"], i as u64 + 1);
        let loss = l["loss"].as_f64().unwrap();
        let parts = l["loss_ce"].as_f64().unwrap() + l["loss_triplet"].as_f64().unwrap();
        assert!(loss.is_finite() && (loss - parts).abs() < 1e-4, "{l}");
        assert!(l["img_per_s"].as_f64().unwrap() > 0.0);
        assert!(
            l["checkpoint"]
                .as_str()
                .unwrap()
                .ends_with(&format!("model_epoch_00{}.ckpt", i + 1))
        );
    }
    // Warm-up: lr rises linearly from 0.1·base to base over 2 epochs.
    assert!((lines[0]["lr"].as_f64().unwrap() - 3.5e-5).abs() < 1e-9);
    assert!((lines[1]["lr"].as_f64().unwrap() - 3.5e-4 * 0.55).abs() < 1e-9);
    let curves = image::open(dir.path().join("train/training_curves.png")).unwrap();
    assert_eq!((curves.width(), curves.height()), (1500, 500));
    let spec_copy = std::fs::read_to_string(dir.path().join("train/experiment.yaml")).unwrap();
    assert!(spec_copy.contains("num_epochs: 2"), "{spec_copy}");

    // The checkpoint through `reid evaluate` gives the rank-1/mAP training reported, plain and
    // re-ranked.
    let ckpt = lines[1]["checkpoint"].as_str().unwrap();
    for (re_ranking, suffix) in [("false", ""), ("true", "_re_ranked")] {
        let eval_dir = dir.path().join(format!("eval{suffix}"));
        ok(&reid(&[
            "evaluate",
            "-e",
            SPEC,
            "-r",
            eval_dir.to_str().unwrap(),
            &format!("evaluate.checkpoint={ckpt}"),
            &format!("re_ranking.re_ranking={re_ranking}"),
            "evaluate.num_sampled_matches=0",
        ]));
        let results = read_json(&eval_dir.join("evaluate/results.json"));
        for key in ["rank1", "mAP"] {
            let status_key = format!("{key}{suffix}");
            let (a, b) = (
                results[key].as_f64().unwrap(),
                lines[1][&status_key].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() < 1e-9,
                "{status_key}: evaluate {a} vs training {b}"
            );
        }
    }
}

#[test]
fn a_killed_run_resumes_from_its_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().to_str().unwrap();
    // Uninterrupted reference run.
    let whole = dir.path().join("whole");
    ok(&train(&whole, &[]));
    let reference = statuses(&whole);

    let killed = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reid"))
        .args(["train", "-e", SPEC, "-r", killed.to_str().unwrap()])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = killed.join("train/model_epoch_001.ckpt");
    let deadline = Instant::now() + Duration::from_secs(600);
    while !first.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        first.exists(),
        "no checkpoint within the deadline ({results})"
    );

    ok(&train(&killed, &[]));
    let resumed = statuses(&killed);
    let epochs: Vec<u64> = resumed
        .iter()
        .map(|l| l["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, vec![1, 2, 3]);
    for (a, b) in resumed.iter().zip(&reference) {
        assert_eq!(a["lr"], b["lr"]);
        let (la, lb) = (a["loss"].as_f64().unwrap(), b["loss"].as_f64().unwrap());
        assert!(
            (la - lb).abs() <= 1e-3 * lb,
            "epoch {}: {la} vs {lb}",
            a["epoch"]
        );
    }
    // Every checkpoint loads; a finished run has nothing left to train ...
    for e in 1..=3 {
        let ckpt = killed.join(format!("train/model_epoch_00{e}.ckpt"));
        ok(&reid(&[
            "inference",
            "-e",
            SPEC,
            "-r",
            dir.path().join(format!("inf{e}")).to_str().unwrap(),
            &format!("inference.checkpoint={}", ckpt.display()),
        ]));
    }
    // ... but redraws the training curves from status.jsonl.
    let curves = killed.join("train/training_curves.png");
    std::fs::remove_file(&curves).unwrap();
    let again = ok(&train(&killed, &[]));
    assert!(again.contains("nothing to do"), "{again}");
    assert!(
        image::open(&curves).is_ok(),
        "{} not redrawn",
        curves.display()
    );
}

#[test]
fn bad_training_settings_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&train(dir.path(), &["dataset.num_classes=751"]));
    assert!(err.contains("dataset.num_classes=16"), "{err}");
    let err = fails(&train(dir.path(), &["model.backbone=resnet_9"]));
    assert!(err.contains("resnet_9"), "{err}");
    let err = fails(&train(dir.path(), &["model.pretrain_choice=imagenet"]));
    assert!(err.contains("model.pretrained_model_path"), "{err}");
    let err = fails(&train(
        dir.path(),
        &["dataset.train_dataset_dir=no/such/dir"],
    ));
    assert!(err.contains("no/such/dir"), "{err}");
    let err = fails(&train(dir.path(), &["dataset.batch_size=400"]));
    assert!(err.contains("dataset.batch_size"), "{err}");
    let err = fails(&train(
        dir.path(),
        &["train.optim.base_lr=1e30", "train.num_epochs=1"],
    ));
    assert!(err.contains("diverged"), "{err}");
    assert!(!dir.path().join("train/model_epoch_001.ckpt").exists());
}

/// Swin-T with TAO ReIdentificationNet Transformer's recipe (SGD, soft-margin triplet, cosine
/// warm-up, no label smoothing) trains on the sample (at 64×32 to keep it short), and its
/// checkpoint exports exactly: the backward pass through shifted windows, the checkpoint and
/// the ONNX lowering all hold.
/// torchreid's MSMT17 OSNet x0.25 (ONNX, BatchNorm folded) as the starting point: every layer
/// loads, the BatchNorms are calibrated, and one epoch on the sample ranks far better than the
/// same network trained from scratch.
#[test]
fn an_osnet_fine_tuned_from_torchreid_onnx_beats_one_from_scratch() {
    let Some(shared) = shared_data() else {
        return;
    };
    let onnx = shared.join("models/osnet_x0_25_msmt17.onnx");
    let run = |name: &str, start: &[String]| {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = [
            "model.backbone=osnet_x0_25",
            "model.feat_dim=512",
            "model.input_height=256",
            "model.input_width=128",
            "train.num_epochs=1",
        ]
        .map(String::from)
        .to_vec();
        args.extend_from_slice(start);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = train(dir.path(), &args);
        ok(&out);
        let line = statuses(dir.path()).remove(0);
        eprintln!("{name}: {line}");
        (String::from_utf8_lossy(&out.stderr).into_owned(), line)
    };
    let (log, pretrained) = run(
        "from MSMT17",
        &[
            "model.pretrain_choice=imagenet".into(),
            format!("model.pretrained_model_path={}", onnx.display()),
        ],
    );
    assert!(
        log.contains("153 tensors loaded, 0 missing, 0 unused"),
        "{log}"
    );
    assert!(log.contains("BatchNorm statistics calibrated on"), "{log}");
    let (_, scratch) = run("from scratch", &[]);
    let score = |l: &Value, k: &str| l[k].as_f64().unwrap();
    for key in ["rank1", "mAP"] {
        assert!(
            score(&pretrained, key) > score(&scratch, key) + 0.2,
            "{key}: pretrained {pretrained} vs scratch {scratch}"
        );
    }
}

#[test]
fn a_swin_transformer_trains_with_the_tao_recipe_and_exports_exactly() {
    let dir = tempfile::tempdir().unwrap();
    ok(&train(
        dir.path(),
        &[
            "model.backbone=swin_tiny_patch4_window7_224",
            "model.feat_dim=256",
            "model.no_margin=true",
            "model.label_smooth=false",
            "model.stride_size=[16,16]",
            "model.pretrain_hw_ratio=2",
            "train.num_epochs=2",
            "train.optim.name=SGD",
            "train.optim.base_lr=0.0008",
            "train.optim.warmup_method=cosine",
            "train.optim.warmup_epochs=1",
        ],
    ));
    let lines = statuses(dir.path());
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(l["loss"].as_f64().unwrap().is_finite(), "{l}");
        assert!(l["rank1"].as_f64().is_some(), "{l}");
        assert!(l.get("rank1_re_ranked").is_none(), "re-ranking is off: {l}");
    }
    // TAO's cosine schedule: warm-up from 0.01·base, then halfway down the cosine at epoch 2.
    assert!(
        (lines[0]["lr"].as_f64().unwrap() - 8e-6).abs() < 1e-11,
        "{}",
        lines[0]
    );
    let halfway = 8e-4 * (0.002 + 0.5 * 0.998);
    assert!(
        (lines[1]["lr"].as_f64().unwrap() - halfway).abs() < 1e-9,
        "{}",
        lines[1]
    );
    let ckpt = dir.path().join("train/model_epoch_002.ckpt");
    let export = |extra: &[&str]| export(dir.path(), &ckpt, extra);
    let out = ok(&export(&[]));
    assert!(out.contains("max |ONNX Runtime − Burn|"), "{out}");
    let report = read_json(&dir.path().join("export/export_report.json"));
    assert!(report["max_abs_diff"].as_f64().unwrap() <= 1e-4, "{report}");
    assert_eq!(report["feat_dim"], 256);
    let err = fails(&export(&[
        "export.data_type=int8",
        "export.cal_image_dir=assets/sample/cuhk03-mini/query",
        "export.overwrite=true",
    ]));
    assert!(err.contains("export Swin models as fp32 or fp16"), "{err}");
}

#[test]
fn an_exported_checkpoint_evaluates_like_the_checkpoint_without_spec_keys() {
    let dir = tempfile::tempdir().unwrap();
    ok(&train(dir.path(), &["train.num_epochs=1"]));
    let ckpt = dir.path().join("train/model_epoch_001.ckpt");
    let export = |extra: &[&str]| export(dir.path(), &ckpt, extra);
    let out = ok(&export(&[]));
    assert!(out.contains("max |ONNX Runtime − Burn|"), "{out}");
    let onnx = dir.path().join("export/model_epoch_001.onnx");
    let report = read_json(&dir.path().join("export/export_report.json"));
    assert!(report["max_abs_diff"].as_f64().unwrap() <= 1e-4, "{report}");

    // specs/sample.yaml says 256×128 for its ONNX model; the export's metadata (64×32) wins.
    let evaluate = |model: &Path, name: &str| {
        let r = dir.path().join(name);
        ok(&reid(&[
            "evaluate",
            "-e",
            "specs/sample.yaml",
            "-r",
            r.to_str().unwrap(),
            &format!("evaluate.checkpoint={}", model.display()),
            "evaluate.num_sampled_matches=0",
        ]));
        read_json(&r.join("evaluate/results.json"))
    };
    // Features agree to 1e-4, so at most a near-tie can flip: one query of 32 at most.
    let (a, b) = (evaluate(&ckpt, "native"), evaluate(&onnx, "onnx"));
    for key in ["rank1", "mAP"] {
        let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
        assert!(
            (x - y).abs() <= 1.0 / 32.0,
            "{key}: checkpoint {x} vs ONNX {y}"
        );
    }

    // INT8, calibrated on the sample's gallery, evaluated beside the checkpoint; then all three
    // benchmarked on the same threads.
    let int8 = dir.path().join("int8.onnx");
    let out = ok(&export(&[
        "export.data_type=int8",
        "export.cal_image_dir=assets/sample/cuhk03-mini/bounding_box_test",
        &format!("export.onnx_file={}", int8.display()),
    ]));
    assert!(out.contains("mAP"), "{out}");
    let report = read_json(&dir.path().join("export/export_report.json"));
    assert_eq!(report["calibration"]["method"], "percentile", "{report}");
    assert!(report["min_cosine"].as_f64().unwrap() >= 0.95, "{report}");
    let ev = &report["evaluation"];
    let (before, after) = (
        ev["checkpoint"]["mAP"].as_f64().unwrap(),
        ev["int8"]["mAP"].as_f64().unwrap(),
    );
    assert!((ev["mAP_change"].as_f64().unwrap() - (after - before)).abs() < 1e-9);
    assert!(
        (before - a["mAP"].as_f64().unwrap()).abs() < 1e-9,
        "{ev} vs {a}"
    );
    let bench = dir.path().join("bench.json");
    ok(&reid(&[
        "bench",
        "-e",
        SPEC,
        "-r",
        dir.path().to_str().unwrap(),
        &format!(
            "bench.models=[{},{},{}]",
            ckpt.display(),
            onnx.display(),
            int8.display()
        ),
        "bench.batch_sizes=[1,8]",
        "bench.iterations=2",
        &format!("bench.output_file={}", bench.display()),
    ]));
    let bench = read_json(&bench);
    let models = bench["models"].as_array().unwrap();
    assert_eq!(models.len(), 3, "{bench}");
    for m in models {
        let batches = m["batches"].as_array().unwrap();
        assert_eq!(batches.len(), 2);
        assert!(
            batches
                .iter()
                .all(|b| b["img_per_s"].as_f64().unwrap() > 0.0)
        );
        assert_eq!(m["extraction"]["images"], 32, "{m}");
    }
}

#[test]
fn a_key_seals_checkpoints_and_asked_for_exports_and_opens_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    ok(&train(dir.path(), &["train.num_epochs=1", "-k", "s3cret"]));
    let ckpt = dir.path().join("train/model_epoch_001.ckpt");
    let bytes = std::fs::read(&ckpt).unwrap();
    assert!(bytes.starts_with(b"REIDSEAL"), "the checkpoint is sealed");
    let ckpt_arg = format!("export.checkpoint={}", ckpt.display());
    let onnx = dir.path().join("sealed.onnx");
    let onnx_arg = format!("export.onnx_file={}", onnx.display());
    // Export needs the key to read the checkpoint and writes a plain, deployable ONNX file
    // unless export.encrypt; an existing file is kept unless export.overwrite.
    let err = fails(&reid(&["export", "-e", SPEC, "-r", r, &ckpt_arg]));
    assert!(err.contains("give its key with -k"), "{err}");
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export", "-e", SPEC, "-r", r, "-k", "s3cret", &ckpt_arg, &onnx_arg,
        ];
        args.extend_from_slice(extra);
        reid(&args)
    };
    let out = ok(&export(&[]));
    assert!(out.contains("writing a plain ONNX file"), "{out}");
    let plain = std::fs::read(&onnx).unwrap();
    assert!(!plain.starts_with(b"REIDSEAL"), "a plain ONNX file");
    let err = fails(&export(&["export.encrypt=true"]));
    assert!(
        err.contains("already exists") && err.contains("export.overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&onnx).unwrap(),
        plain,
        "the existing file is kept"
    );
    ok(&export(&["export.encrypt=true", "export.overwrite=true"]));
    assert!(std::fs::read(&onnx).unwrap().starts_with(b"REIDSEAL"));
    let evaluate = |model: &Path, key: &str| {
        reid(&[
            "evaluate",
            "-e",
            SPEC,
            "-r",
            r,
            "-k",
            key,
            &format!("evaluate.checkpoint={}", model.display()),
            "evaluate.num_sampled_matches=0",
        ])
    };
    ok(&evaluate(&onnx, "s3cret"));
    let err = fails(&evaluate(&onnx, "wrong"));
    assert!(err.contains("wrong key"), "{err}");
    // One changed byte anywhere: refused, never half-read.
    let mut tampered = bytes;
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x40;
    std::fs::write(&ckpt, &tampered).unwrap();
    let err = fails(&evaluate(&ckpt, "s3cret"));
    assert!(err.contains("changed or damaged"), "{err}");
}

/// The command lines of TAO's ReIdentificationNet document, as written there (paths and the
/// sample's sizes aside): `--experiment_spec_file`, `-k`, the GPU keys (no GPU backend here:
/// CPU, said in one line), `${results_dir}`, a TAO-format status.json per command, and a plain
/// ONNX file with TAO's tensor names.
#[test]
fn the_tao_document_command_lines_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let spec = dir.path().join("tao.yaml");
    let text = std::fs::read_to_string(repo().join(SPEC)).unwrap()
        + "encryption_key: nvidia_tao\nevaluate:\n  results_dir: \"${results_dir}/eval\"\n";
    std::fs::write(&spec, text).unwrap();
    let spec = spec.to_str().unwrap();
    let key = ["-k", "nvidia_tao"];
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec![command, "--experiment_spec_file", spec, "-r", r];
        args.extend_from_slice(&key);
        args.extend_from_slice(extra);
        ok(&reid(&args))
    };
    let out = run("train", &["train.gpu_ids=[0]", "train.num_epochs=1"]);
    assert!(
        out.contains("train.gpu_ids [0] (TAO)") && out.contains("running on the CPU"),
        "{out}"
    );
    let ckpt = dir.path().join("train/model_epoch_001.ckpt");
    let checkpoint = format!("evaluate.checkpoint={}", ckpt.display());
    let plots = [
        format!("evaluate.output_sampled_matches_plot={r}/matches.png"),
        format!("evaluate.output_cmc_curve_plot={r}/cmc.png"),
    ];
    let out = run(
        "evaluate",
        &[
            &checkpoint,
            &plots[0],
            &plots[1],
            "evaluate.test_dataset=assets/sample/cuhk03-mini/bounding_box_test",
            "evaluate.query_dataset=assets/sample/cuhk03-mini/query",
            "evaluate.gpu_id=0",
        ],
    );
    assert!(out.contains("evaluate.gpu_id 0 (TAO)"), "{out}");
    assert!(
        dir.path().join("eval/results.json").is_file(),
        "${{results_dir}}/eval"
    );
    assert!(dir.path().join("cmc.png").is_file() && dir.path().join("matches.png").is_file());
    let emb = format!("inference.output_file={r}/emb.json");
    run(
        "inference",
        &[
            &format!("inference.checkpoint={}", ckpt.display()),
            &emb,
            "inference.test_dataset=assets/sample/cuhk03-mini/bounding_box_test",
            "inference.query_dataset=assets/sample/cuhk03-mini/query",
            "inference.gpu_id=0",
        ],
    );
    run(
        "export",
        &[
            &format!("export.checkpoint={}", ckpt.display()),
            "export.gpu_id=0",
        ],
    );
    let onnx = std::fs::read(dir.path().join("export/model_epoch_001.onnx")).unwrap();
    assert!(!onnx.starts_with(b"REIDSEAL"), "a deployable ONNX file");
    let has = |name: &[u8]| onnx.windows(name.len()).any(|w| w == name);
    assert!(has(b"fc_pred") && has(b"input"), "TAO's tensor names");
    for (sub, mode) in [
        ("train", "Train"),
        ("eval", "Evaluate"),
        ("inference", "Inference"),
        ("export", "Export"),
    ] {
        let lines = read_jsonl(&dir.path().join(sub).join("status.json"));
        assert_eq!(lines[0]["status"], "STARTED", "{sub}");
        let last = lines.last().unwrap();
        assert_eq!(last["status"], "SUCCESS", "{sub}: {last}");
        assert_eq!(last["message"], format!("{mode} finished successfully."));
        for key in ["date", "time", "verbosity"] {
            assert!(last[key].is_string(), "{sub}: {last}");
        }
    }
    let eval = read_jsonl(&dir.path().join("eval/status.json"));
    assert!(eval.last().unwrap()["kpi"]["mAP"].as_f64().unwrap() > 0.0);
    // A failing command says so in its status.json.
    let err = fails(&reid(&[
        "evaluate",
        "-e",
        spec,
        "-r",
        r,
        "evaluate.checkpoint=missing.onnx",
    ]));
    assert!(err.contains("missing.onnx"), "{err}");
    let eval = read_jsonl(&dir.path().join("eval/status.json"));
    let last = eval.last().unwrap();
    assert_eq!(last["status"], "FAILURE");
    assert!(
        last["message"].as_str().unwrap().contains("missing.onnx"),
        "{last}"
    );
}

/// Two training sets at once (fast-reid's combineall): the sample's query and test folders
/// share their 16 person ids, which stay 32 identities; `dataset.num_classes: 0` takes that
/// number from the data.
#[test]
fn several_training_sets_train_as_one_with_their_identities_apart() {
    let dir = tempfile::tempdir().unwrap();
    let sets = "dataset.train_dataset_dir=[assets/sample/cuhk03-mini/query, \
                assets/sample/cuhk03-mini/bounding_box_test]";
    let err = fails(&train(dir.path(), &[sets, "train.num_epochs=1"]));
    assert!(err.contains("hold 32 person ids"), "{err}");
    assert!(err.contains("dataset.num_classes=32"), "{err}");
    let out = train(
        dir.path(),
        &[sets, "train.num_epochs=1", "dataset.num_classes=0"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    assert!(
        stderr.contains("32 identities in the training set(s)"),
        "{stderr}"
    );
    assert_eq!(statuses(dir.path()).len(), 1);
}

/// `export.triton` / `export.deepstream`: a Triton repository entry whose config.pbtxt parses
/// against Triton's own model-config schema (tritonclient's protobuf) and names the tensors
/// ONNX Runtime finds in the model, and a DeepStream ReID section from the model's
/// pre-processing.
#[test]
fn export_writes_triton_and_deepstream_files_that_fit_the_model() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    ok(&train(dir.path(), &["train.num_epochs=1"]));
    let ckpt = dir.path().join("train/model_epoch_001.ckpt");
    ok(&export(
        dir.path(),
        &ckpt,
        &["export.triton=true", "export.deepstream=true"],
    ));
    let entry = dir.path().join("export/triton/model_epoch_001");
    let check = r#"
import json, sys
from google.protobuf import text_format
import onnxruntime as ort
import tritonclient.grpc.model_config_pb2 as mc
cfg = text_format.Parse(open(sys.argv[1] + "/config.pbtxt").read(), mc.ModelConfig())
s = ort.InferenceSession(sys.argv[1] + "/1/model.onnx")
i, o = s.get_inputs()[0], s.get_outputs()[0]
print(json.dumps({
    "platform": cfg.platform, "max_batch_size": cfg.max_batch_size,
    "input": [cfg.input[0].name, list(cfg.input[0].dims), mc.DataType.Name(cfg.input[0].data_type)],
    "output": [cfg.output[0].name, list(cfg.output[0].dims)],
    "onnx": [i.name, i.shape[1:], o.name, o.shape[1:]],
}))
"#;
    let got = python_json(&py, &["-c", check, entry.to_str().unwrap()]);
    assert_eq!(got["platform"], "onnxruntime_onnx");
    assert_eq!(got["max_batch_size"], 16);
    assert_eq!(
        got["input"],
        serde_json::json!(["input", [3, 64, 32], "TYPE_FP32"])
    );
    assert_eq!(got["output"], serde_json::json!(["fc_pred", [128]]));
    assert_eq!(
        got["onnx"],
        serde_json::json!(["input", [3, 64, 32], "fc_pred", [128]])
    );
    let ds: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.path().join("export/deepstream_reid.yml")).unwrap(),
    )
    .unwrap();
    let reid = &ds["ReID"];
    assert_eq!(reid["reidFeatureSize"], 128);
    assert_eq!(
        serde_yaml::to_string(&reid["inferDims"]).unwrap().trim(),
        "- 3\n- 64\n- 32"
    );
    let offset0 = reid["offsets"][0].as_f64().unwrap();
    assert!((offset0 - 255.0 * 0.485).abs() < 1e-3, "{offset0}");
    let report = read_json(&dir.path().join("export/export_report.json"));
    assert!(
        report["triton"].is_string() && report["deepstream"].is_string(),
        "{report}"
    );
}
