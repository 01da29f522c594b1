//! Spec loading as users meet it: TAO specs, typos, wrong types and command-line overrides.

use reid_config::{ChannelOrder, ConfigError, Metric, Neck, Spec, WarmupMethod};
use std::path::PathBuf;

/// TAO's ReIdentificationNet Transformer example spec (capitalised booleans included).
const TAO_SPEC: &str = r#"
results_dir: "/path/to/experiment_results"
encryption_key: nvidia_tao
model:
  backbone: swin_tiny_patch4_window7_224
  last_stride: 1
  pretrain_choice: self
  pretrained_model_path: "/path/to/pretrained_model.pth"
  input_channels: 3
  input_width: 128
  input_height: 384
  neck: bnneck
  stride_size: [16, 16]
  feat_dim: 1024
  no_margin: True
  neck_feat: after
  metric_loss_type: triplet
  with_center_loss: False
  with_flip_feature: False
  label_smooth: False
  pretrain_hw_ratio: 2
dataset:
  train_dataset_dir: "/path/to/train_dataset_dir"
  test_dataset_dir: "/path/to/test_dataset_dir"
  query_dataset_dir: "/path/to/query_dataset_dir"
  num_classes: 751
  batch_size: 64
  val_batch_size: 128
  num_workers: 8
  pixel_mean: [0.5, 0.5, 0.5]
  pixel_std: [0.5, 0.5, 0.5]
  padding: 10
  prob: 0.5
  re_prob: 0.5
  sampler: softmax_triplet
  num_instances: 4
re_ranking:
  re_ranking: True
  k1: 20
  k2: 6
  lambda_value: 0.3
train:
  results_dir: "${results_dir}/train"
  optim:
    name: SGD
    lr_steps: [40, 70]
    gamma: 0.1
    bias_lr_factor: 2
    weight_decay: 0.0001
    weight_decay_bias: 0.0001
    warmup_factor: 0.01
    warmup_epochs: 20
    warmup_method: cosine
    base_lr: 0.0008
    momentum: 0.9
    center_loss_weight: 0.0005
    center_lr: 0.5
    triplet_loss_margin: 0.3
    large_fc_lr: False
  num_epochs: 120
  checkpoint_interval: 10
"#;

fn load(text: &str, overrides: &[&str]) -> Result<Spec, ConfigError> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Spec::from_yaml_str(text, "spec.yaml", &o)
}

#[test]
fn reads_tao_example_spec() {
    let s = load(TAO_SPEC, &[]).unwrap();
    assert_eq!(s.model.input_height, 384);
    assert_eq!(s.model.neck, Neck::BnNeck);
    assert!(s.model.no_margin && !s.model.with_flip_feature);
    assert!(s.re_ranking.re_ranking);
    assert_eq!(s.dataset.pixel_mean, vec![0.5; 3]);
    assert_eq!(s.train.optim.warmup_method, WarmupMethod::Cosine);
    assert_eq!(s.train.optim.lr_steps, vec![40, 70]);
    assert_eq!(s.encryption_key.as_deref(), Some("nvidia_tao"));
}

#[test]
fn empty_spec_gives_defaults() {
    let s = load("", &[]).unwrap();
    assert_eq!(s, Spec::default());
    assert_eq!(s.dataset.channel_order, ChannelOrder::Rgb);
    assert!(!s.re_ranking.re_ranking);
}

#[test]
fn unknown_key_names_path_and_closest_key() {
    let err = load("model:\n  input_heigth: 256\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key `model.input_heigth`"), "{err}");
    assert!(err.contains("did you mean `model.input_height`"), "{err}");
    let err = load("re_rankin:\n  k1: 3\n", &[]).unwrap_err().to_string();
    assert!(
        err.contains("`re_rankin`") && err.contains("`re_ranking`"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let err = load("dataset:\n  val_batch_size: many\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dataset.val_batch_size"), "{err}");
    let err = load("dataset:\n  channel_order: rbg\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dataset.channel_order") && err.contains("rgb"),
        "{err}"
    );
}

#[test]
fn overrides_parse_values_by_the_key_type() {
    let s = load(
        TAO_SPEC,
        &[
            "re_ranking.re_ranking=false",
            "re_ranking.k1=7",
            "evaluate.checkpoint=0001",
            "dataset.pixel_std=[0.25, 0.25, 0.25]",
            "evaluate.metric=cosine",
            "model.with_flip_feature=True",
            "bench.batch_sizes=[2,4]",
            "dataset.query_dataset_dir=null",
        ],
    )
    .unwrap();
    assert_eq!(s.dataset.query_dataset_dir, None);
    assert!(!s.re_ranking.re_ranking);
    assert_eq!(s.re_ranking.k1, 7);
    assert_eq!(s.evaluate.checkpoint, Some(PathBuf::from("0001")));
    assert_eq!(s.dataset.pixel_std, vec![0.25; 3]);
    assert_eq!(s.evaluate.metric, Metric::Cosine);
    assert!(s.model.with_flip_feature);
    assert_eq!(s.bench.batch_sizes, vec![2, 4]);
}

#[test]
fn bad_overrides_are_one_line_errors() {
    let err = load("", &["evaluate.chekpoint=x.onnx"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`evaluate.chekpoint`") && err.contains("`evaluate.checkpoint`"),
        "{err}"
    );
    let err = load("", &["evaluate.checkpoint"]).unwrap_err().to_string();
    assert!(err.contains("section.key=value"), "{err}");
    let err = load("", &["re_ranking.k1=lots"]).unwrap_err().to_string();
    assert!(err.contains("re_ranking.k1"), "{err}");
    let err = load("", &["model.input_width.x=3"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a section"), "{err}");
}

#[test]
fn out_of_range_values_are_rejected() {
    let err = load("dataset:\n  pixel_std: [0.2, 0.0, 0.2]\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dataset.pixel_std"), "{err}");
    let err = load("dataset:\n  pixel_mean: [0.5]\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs 3 values"), "{err}");
    let err = load("re_ranking:\n  lambda_value: 1.5\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("re_ranking.lambda_value"), "{err}");
    let err = load("model: [1, 2]\n", &[]).unwrap_err().to_string();
    assert!(err.contains("model"), "{err}");
}

#[test]
fn unreadable_and_invalid_files_name_the_file() {
    let err = Spec::load(std::path::Path::new("/nonexistent/spec.yaml"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/spec.yaml"), "{err}");
    let err = load("model: {input_height: [", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.yaml") && err.contains("YAML"), "{err}");
}

#[test]
fn keys_of_other_tao_releases_are_read_as_todays() {
    let s = load(
        "train:\n  grad_clip: 5.0\n  optim:\n    warmup_iters: 10\n    steps: [30, 55]\n",
        &["train.optim.warmup_iters=12"],
    )
    .unwrap();
    // TAO 5.2+ keeps both: `warmup_iters` for the linear warm-up, `warmup_epochs` for cosine.
    assert_eq!(s.train.optim.warmup_iters, Some(12));
    assert_eq!(s.train.optim.warmup_epochs, 20);
    assert_eq!(s.train.optim.lr_steps, vec![30, 55]);
    assert_eq!(s.train.clip_grad_norm, 5.0);
}

/// Keys of TAO 5's own config (its default_config.py) that a TAO user's spec carries.
const TAO5_KEYS: &str = r#"
results_dir: /r
model:
  id_loss_type: softmax
  reduce_feat_dim: False
  jpm: False
re_ranking:
  max_rank: 10
  num_query: 5
train:
  num_gpus: 1
  gpu_ids: [0]
  num_nodes: 1
  validation_interval: 2
  cudnn:
    benchmark: False
    deterministic: True
  optim:
    lr_monitor: val_loss
evaluate:
  results_dir: "${results_dir}/evaluate"
  gpu_id: 0
inference:
  results_dir: "${results_dir}/inference"
export:
  gpu_id: 0
wandb:
  enable: False
  project: "TAO Toolkit"
"#;

#[test]
fn tao5_keys_load_with_taos_meaning() {
    let s = load(TAO5_KEYS, &[]).unwrap();
    assert_eq!(s.re_ranking.max_rank, 10);
    assert_eq!(s.evaluate.num_sampled_matches, 5, "re_ranking.num_query");
    assert_eq!(s.train.validation_interval, Some(2));
    assert_eq!(s.train.gpu_ids, Some(vec![0]));
    assert_eq!(s.evaluate.results_dir, Some(PathBuf::from("/r/evaluate")));
    // `-r` arrives as an override and moves every `${results_dir}` with it.
    let s = load(TAO5_KEYS, &["results_dir=/elsewhere"]).unwrap();
    assert_eq!(
        s.inference.results_dir,
        Some(PathBuf::from("/elsewhere/inference"))
    );
    let err = load("evaluate: {results_dir: \"${nothing}/x\"}\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("evaluate.results_dir") && err.contains("`nothing`"),
        "{err}"
    );
}

#[test]
fn tao_keys_of_features_reid_lacks_are_refused_unless_at_taos_default() {
    let err = load("model: {jpm: True}\n", &[]).unwrap_err().to_string();
    assert!(
        err.contains("`model.jpm: true` is a TAO key reid does not support")
            && err.contains("`false`"),
        "{err}"
    );
    let err = load("", &["model.id_loss_type=arcface"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.id_loss_type") && err.contains("arcface"),
        "{err}"
    );
    load("", &["model.id_loss_type=softmax"]).unwrap();
    let err = load("wandb: {enable: true}\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("wandb.enable"), "{err}");
}

#[test]
fn tao_gpu_keys_choose_the_device() {
    use reid_config::DeviceKind;
    let mut s = load("train: {gpu_ids: [0]}\n", &[]).unwrap();
    let line = s.resolve_gpu_keys(false).unwrap().unwrap();
    assert!(
        line.contains("train.gpu_ids [0]") && line.contains("running on the CPU"),
        "{line}"
    );
    assert_eq!(s.device, DeviceKind::Cpu);
    assert_eq!(
        load("", &["evaluate.gpu_id=0"]).unwrap().evaluate.gpu_id,
        Some(0)
    );
    let mut s = load("evaluate: {gpu_id: 0}\n", &[]).unwrap();
    assert!(
        s.resolve_gpu_keys(true)
            .unwrap()
            .unwrap()
            .contains("device wgpu")
    );
    assert_eq!(s.device, DeviceKind::Wgpu);
    // `device` in the spec wins over TAO's keys.
    let mut s = load("device: cpu\ntrain: {gpu_ids: [0]}\n", &[]).unwrap();
    assert_eq!(s.resolve_gpu_keys(true).unwrap(), None);
    assert_eq!(s.device, DeviceKind::Cpu);
    let mut s = load("", &[]).unwrap();
    assert_eq!(s.resolve_gpu_keys(true).unwrap(), None);
    for yaml in ["train: {num_gpus: 2}\n", "train: {gpu_ids: [0, 1]}\n"] {
        let err = load(yaml, &[]).unwrap().resolve_gpu_keys(true).unwrap_err();
        assert!(err.to_string().contains("data-parallel"), "{err}");
    }
}
