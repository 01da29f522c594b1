//! The experiment spec: one typed struct per TAO section (`model`, `dataset`, `re_ranking`,
//! `train`, `evaluate`, `inference`, `export`) plus reid's own `bench`, `serve` and `track`. Defaults follow TAO's
//! ReIdentificationNet tables; keys TAO lacks but ONNX models need (e.g. `dataset.channel_order`)
//! are documented where they are declared.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole experiment spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spec {
    /// TAO's top-level results directory; `-r` on the command line wins.
    pub results_dir: Option<PathBuf>,
    /// TAO's top-level model key; `-k` on the command line wins.
    pub encryption_key: Option<String>,
    /// Compute threads for inference and evaluation; 0 = all cores.
    pub num_threads: usize,
    /// Where native (Burn) models run: `cpu`, or a GPU backend reid was built with.
    pub device: DeviceKind,
    /// Whether the spec or the command line set `device` (TAO's GPU keys then do not choose it).
    #[serde(skip)]
    pub device_set: bool,
    pub model: ModelConfig,
    pub dataset: DatasetConfig,
    pub re_ranking: ReRankingConfig,
    pub train: TrainConfig,
    pub evaluate: EvaluateConfig,
    pub inference: InferenceConfig,
    pub export: ExportConfig,
    pub bench: BenchConfig,
    pub serve: ServeConfig,
    pub track: TrackConfig,
}

/// Device for native models (`device`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Burn's pure-Rust `flex` CPU backend.
    #[default]
    Cpu,
    /// Burn's `wgpu` backend (Cargo feature `wgpu`).
    Wgpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Neck {
    #[serde(rename = "bnneck")]
    BnNeck,
    #[serde(rename = "")]
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeckFeat {
    Before,
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricLossType {
    Triplet,
    Center,
    TripletCenter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PretrainChoice {
    #[serde(rename = "imagenet")]
    ImageNet,
    #[serde(rename = "self")]
    SelfTrained,
    #[serde(rename = "")]
    None,
}

/// The backbones reid builds natively (`model.backbone`, TAO's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BackboneKind {
    #[serde(rename = "mobilenet_v2")]
    MobileNetV2,
    #[serde(rename = "osnet_x0_25")]
    OsNetX0_25,
    #[serde(rename = "osnet_x0_5")]
    OsNetX0_5,
    #[serde(rename = "osnet_x0_75")]
    OsNetX0_75,
    #[serde(rename = "osnet_x1_0")]
    OsNetX1_0,
    #[serde(rename = "resnet_18")]
    ResNet18,
    #[serde(rename = "resnet_34")]
    ResNet34,
    #[serde(rename = "resnet_50")]
    ResNet50,
    #[serde(rename = "resnet_101")]
    ResNet101,
    #[serde(rename = "swin_tiny_patch4_window7_224")]
    SwinTiny,
    #[serde(rename = "swin_small_patch4_window7_224")]
    SwinSmall,
    #[serde(rename = "swin_base_patch4_window7_224")]
    SwinBase,
}

impl BackboneKind {
    /// The name as written in specs and checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Self::MobileNetV2 => "mobilenet_v2",
            Self::OsNetX0_25 => "osnet_x0_25",
            Self::OsNetX0_5 => "osnet_x0_5",
            Self::OsNetX0_75 => "osnet_x0_75",
            Self::OsNetX1_0 => "osnet_x1_0",
            Self::ResNet18 => "resnet_18",
            Self::ResNet34 => "resnet_34",
            Self::ResNet50 => "resnet_50",
            Self::ResNet101 => "resnet_101",
            Self::SwinTiny => "swin_tiny_patch4_window7_224",
            Self::SwinSmall => "swin_small_patch4_window7_224",
            Self::SwinBase => "swin_base_patch4_window7_224",
        }
    }
}

impl std::fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `model.*`: the network and how its embedding is read out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub backbone: BackboneKind,
    pub last_stride: u32,
    pub pretrain_choice: PretrainChoice,
    pub pretrained_model_path: Option<PathBuf>,
    pub input_channels: u32,
    pub input_width: u32,
    pub input_height: u32,
    pub neck: Neck,
    pub stride_size: Vec<u32>,
    pub feat_dim: u32,
    pub no_margin: bool,
    pub neck_feat: NeckFeat,
    pub metric_loss_type: MetricLossType,
    pub with_center_loss: bool,
    /// Test-time augmentation: the embedding is the sum of the image's and its mirror's.
    pub with_flip_feature: bool,
    pub label_smooth: bool,
    pub pretrain_hw_ratio: f32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            backbone: BackboneKind::ResNet50,
            last_stride: 1,
            pretrain_choice: PretrainChoice::SelfTrained,
            pretrained_model_path: None,
            input_channels: 3,
            input_width: 128,
            input_height: 256,
            neck: Neck::BnNeck,
            stride_size: vec![16, 16],
            feat_dim: 256,
            no_margin: true,
            neck_feat: NeckFeat::After,
            metric_loss_type: MetricLossType::Triplet,
            with_center_loss: false,
            with_flip_feature: false,
            label_smooth: false,
            pretrain_hw_ratio: 2.0,
        }
    }
}

/// Colour order of the network input (not in TAO, whose models are all RGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    Softmax,
    Triplet,
    SoftmaxTriplet,
}

/// How a dataset path names its images and their labels (`dataset.layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetLayout {
    /// Market-1501 file names `PPPP_cCsS_FFFFFF_NN.jpg` in a folder.
    Market,
    /// DukeMTMC-reID file names `PPPP_cC_fFFFFFFF.jpg` in a folder.
    Duke,
    /// An MSMT17 list file (`list_train.txt`, `list_query.txt`, …): `path pid` lines.
    Msmt17,
    /// A folder per identity: `DIR/<pid>/<images>` or `DIR/<pid>/<camera>/<images>`.
    Folders,
    /// A CSV file with the header `path,pid[,camid]`, paths relative to its folder.
    Csv,
}

impl DatasetLayout {
    pub fn name(self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Duke => "duke",
            Self::Msmt17 => "msmt17",
            Self::Folders => "folders",
            Self::Csv => "csv",
        }
    }
}

impl std::fmt::Display for DatasetLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `dataset.*`: where the images are and how they become tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetConfig {
    /// One training set or several (fast-reid's combineall): identities of different sets stay
    /// different classes.
    #[serde(deserialize_with = "one_or_many")]
    pub train_dataset_dir: Vec<PathBuf>,
    pub test_dataset_dir: Option<PathBuf>,
    pub query_dataset_dir: Option<PathBuf>,
    pub num_classes: u32,
    pub batch_size: usize,
    pub val_batch_size: usize,
    /// Image decoding threads; 0 = all cores.
    pub num_workers: usize,
    /// Per-channel mean in 0–1 units, in the model's channel order.
    pub pixel_mean: Vec<f32>,
    /// Per-channel standard deviation in 0–1 units, in the model's channel order.
    pub pixel_std: Vec<f32>,
    pub padding: u32,
    pub prob: f32,
    pub re_prob: f32,
    pub sampler: Sampler,
    pub num_instances: usize,
    /// Colour order the network expects (reid extension; TAO is always RGB).
    pub channel_order: ChannelOrder,
    /// How every dataset path of the spec is read; detected from each path when unset.
    pub layout: Option<DatasetLayout>,
}

/// A path or a list of paths (`null` for none).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(p)) => vec![p],
        Some(OneOrMany::Many(v)) => v,
    })
}

impl Default for DatasetConfig {
    fn default() -> Self {
        Self {
            train_dataset_dir: Vec::new(),
            test_dataset_dir: None,
            query_dataset_dir: None,
            num_classes: 751,
            batch_size: 64,
            val_batch_size: 128,
            num_workers: 0,
            pixel_mean: vec![0.485, 0.456, 0.406],
            pixel_std: vec![0.229, 0.224, 0.225],
            padding: 10,
            prob: 0.5,
            re_prob: 0.5,
            sampler: Sampler::SoftmaxTriplet,
            num_instances: 4,
            channel_order: ChannelOrder::Rgb,
            layout: None,
        }
    }
}

/// `re_ranking.*`: k-reciprocal re-ranking (Zhong et al. 2017). Off by default (TAO's default is
/// on): it costs an all-pairs pass over query + gallery, so it is opted into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReRankingConfig {
    pub re_ranking: bool,
    pub k1: usize,
    pub k2: usize,
    pub lambda_value: f32,
    /// Length of the CMC curve in results.json and its plot (TAO: 10).
    pub max_rank: usize,
}

impl Default for ReRankingConfig {
    fn default() -> Self {
        Self {
            re_ranking: false,
            k1: 20,
            k2: 6,
            lambda_value: 0.3,
            max_rank: 50,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptimizerName {
    #[serde(rename = "SGD", alias = "sgd")]
    Sgd,
    #[serde(rename = "Adam", alias = "adam")]
    Adam,
    #[serde(rename = "AdamW", alias = "adamw")]
    AdamW,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarmupMethod {
    Linear,
    Cosine,
}

/// `train.optim.*`: optimiser, learning-rate schedule and loss weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    pub name: OptimizerName,
    pub lr_steps: Vec<u32>,
    pub gamma: f32,
    pub bias_lr_factor: f32,
    pub weight_decay: f32,
    pub weight_decay_bias: f32,
    pub warmup_factor: f32,
    /// Warm-up length of the cosine schedule (and of the linear one without `warmup_iters`).
    pub warmup_epochs: u32,
    /// Warm-up length of the linear schedule, in epochs (TAO's name; TAO 5.0's only warm-up key).
    pub warmup_iters: Option<u32>,
    pub warmup_method: WarmupMethod,
    pub base_lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
    pub center_loss_weight: f32,
    pub center_lr: f32,
    pub triplet_loss_margin: f32,
    pub large_fc_lr: bool,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            name: OptimizerName::Sgd,
            lr_steps: vec![40, 70],
            gamma: 0.1,
            bias_lr_factor: 2.0,
            weight_decay: 0.0001,
            weight_decay_bias: 0.0001,
            warmup_factor: 0.01,
            warmup_epochs: 20,
            warmup_iters: None,
            warmup_method: WarmupMethod::Cosine,
            base_lr: 0.0008,
            momentum: 0.9,
            nesterov: false,
            center_loss_weight: 0.0005,
            center_lr: 0.5,
            triplet_loss_margin: 0.3,
            large_fc_lr: false,
        }
    }
}

/// `train.*`: the training loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Where `reid train` writes (default `RESULTS_DIR/train`).
    pub results_dir: Option<PathBuf>,
    pub optim: OptimConfig,
    pub num_epochs: u32,
    pub checkpoint_interval: u32,
    /// Validate every this many epochs (default: at every checkpoint).
    pub validation_interval: Option<u32>,
    /// TAO's devices: one GPU at most (see [`Spec::resolve_gpu_keys`]).
    pub num_gpus: Option<u32>,
    pub gpu_ids: Option<Vec<u32>>,
    pub num_nodes: Option<u32>,
    pub clip_grad_norm: f32,
    pub resume: Option<PathBuf>,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            results_dir: None,
            optim: OptimConfig::default(),
            num_epochs: 120,
            checkpoint_interval: 10,
            validation_interval: None,
            num_gpus: None,
            gpu_ids: None,
            num_nodes: None,
            clip_grad_norm: 0.0,
            resume: None,
            seed: 1234,
        }
    }
}

/// Distance used to rank the gallery (features are L2-normalised first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Euclidean distance between L2-normalised features (TAO's choice).
    Euclidean,
    /// `1 − cos`, clipped at 0; ranks exactly as `euclidean`.
    Cosine,
}

/// `evaluate.*`: the `reid evaluate` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluateConfig {
    /// Where `reid evaluate` writes (default `RESULTS_DIR/evaluate`).
    pub results_dir: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub test_dataset: Option<PathBuf>,
    pub query_dataset: Option<PathBuf>,
    pub output_sampled_matches_plot: Option<PathBuf>,
    pub output_cmc_curve_plot: Option<PathBuf>,
    /// An embeddings JSON (as written by `reid inference`) to evaluate without a model.
    pub features: Option<PathBuf>,
    pub metric: Metric,
    /// Queries shown in the sampled-matches plot (TAO: `re_ranking.num_query`).
    pub num_sampled_matches: usize,
    /// TAO's device keys (the first GPU is used, as TAO does).
    pub gpu_id: Option<u32>,
    pub gpu_ids: Option<Vec<u32>>,
    pub num_gpus: Option<u32>,
    pub num_nodes: Option<u32>,
}

impl Default for EvaluateConfig {
    fn default() -> Self {
        Self {
            results_dir: None,
            checkpoint: None,
            test_dataset: None,
            query_dataset: None,
            output_sampled_matches_plot: None,
            output_cmc_curve_plot: None,
            features: None,
            metric: Metric::Euclidean,
            num_sampled_matches: 10,
            gpu_id: None,
            gpu_ids: None,
            num_gpus: None,
            num_nodes: None,
        }
    }
}

/// `inference.*`: the `reid inference` command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceConfig {
    /// Where `reid inference` writes (default `RESULTS_DIR/inference`).
    pub results_dir: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub output_file: Option<PathBuf>,
    pub test_dataset: Option<PathBuf>,
    pub query_dataset: Option<PathBuf>,
    /// TAO's device keys (the first GPU is used, as TAO does).
    pub gpu_id: Option<u32>,
    pub gpu_ids: Option<Vec<u32>>,
    pub num_gpus: Option<u32>,
    pub num_nodes: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportDataType {
    Fp32,
    Fp16,
    Int8,
}

/// How INT8 calibration picks each activation's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    /// The observed minimum and maximum.
    Minmax,
    /// Clipped at the 99.99th percentile of |x|.
    Percentile,
    /// Clipped where the quantised distribution loses least information (KL divergence).
    Entropy,
}

/// `export.*`: the `reid export` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Where `reid export` writes its report and, by default, the ONNX file (default
    /// `RESULTS_DIR/export`).
    pub results_dir: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub onnx_file: Option<PathBuf>,
    pub data_type: ExportDataType,
    /// −1 exports a dynamic batch dimension.
    pub batch_size: i64,
    /// INT8 calibration images (default: `dataset.train_dataset_dir`).
    pub cal_image_dir: Option<PathBuf>,
    /// INT8 calibration: batches of `cal_batch_size` images.
    pub cal_batches: usize,
    pub cal_batch_size: usize,
    pub cal_method: CalibrationMethod,
    /// Seal the ONNX file with the model key (`-k`) too; by default it is a plain, deployable
    /// ONNX file and `-k` seals only checkpoints.
    pub encrypt: bool,
    /// Replace an existing ONNX file (TAO refuses to).
    pub overwrite: bool,
    /// Also write a Triton model-repository entry (`triton/<name>/config.pbtxt`, `1/model.onnx`).
    pub triton: bool,
    /// Also write the `ReID:` section of a DeepStream NvDCF tracker config.
    pub deepstream: bool,
    /// TAO's device key.
    pub gpu_id: Option<u32>,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            results_dir: None,
            checkpoint: None,
            onnx_file: None,
            data_type: ExportDataType::Fp32,
            batch_size: -1,
            cal_image_dir: None,
            cal_batches: 10,
            cal_batch_size: 16,
            cal_method: CalibrationMethod::Percentile,
            encrypt: false,
            overwrite: false,
            triton: false,
            deepstream: false,
            gpu_id: None,
        }
    }
}

/// `bench.*`: the `reid bench` command (reid's own section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchConfig {
    pub checkpoint: Option<PathBuf>,
    /// Models compared on the same threads and inputs (native checkpoints and ONNX files, e.g.
    /// one network as `.ckpt` and its fp32 / fp16 / INT8 exports); default: `checkpoint`.
    pub models: Vec<PathBuf>,
    pub batch_sizes: Vec<usize>,
    /// Timed runs per batch size, after one warm-up run.
    pub iterations: usize,
    pub output_file: Option<PathBuf>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            checkpoint: None,
            models: Vec::new(),
            batch_sizes: vec![1, 8, 32],
            iterations: 10,
            output_file: None,
        }
    }
}

/// `serve.*`: the `reid serve` embedding and gallery-search service (reid's own section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The model (ONNX or native checkpoint); `--model` wins.
    pub model: Option<PathBuf>,
    /// Listen address; loopback by default. `--addr` wins.
    pub addr: String,
    /// Gallery store: a folder (the embedded store) or `milvus://HOST:PORT`; `--store` wins.
    pub store: Option<String>,
    /// Bearer token every `/v1` request must carry; also `REID_TOKEN`; `--token` wins.
    pub token: Option<String>,
    /// Largest batch the model is given when concurrent requests are merged.
    pub max_batch: usize,
    /// How long the first image of a batch waits for others, in milliseconds.
    pub max_wait_ms: u64,
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Largest decoded image, in pixels (413 above it).
    pub max_image_pixels: u64,
    /// Largest `top_k` of a search.
    pub max_top_k: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            model: None,
            addr: "127.0.0.1:8080".to_owned(),
            store: None,
            token: None,
            max_batch: 32,
            max_wait_ms: 5,
            max_body_bytes: 16 << 20,
            max_image_pixels: 16 << 20,
            max_top_k: 1000,
        }
    }
}

/// `track.*`: person detection in frames for `reid search` and `reid track` (reid's own section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackConfig {
    /// Person detector (ONNX, FastestDet-style); `--detector` wins.
    pub detector: Option<PathBuf>,
    /// ReID model for the crops (ONNX or checkpoint); `--model` wins.
    pub model: Option<PathBuf>,
    /// Detections scoring lower are ignored (FastestDet's score: objectness^0.6 × class^0.4;
    /// 0.65 as its upstream runner). Person search may go lower: a false detection costs it
    /// nothing, a missed one the person.
    pub min_score: f32,
    /// Person search: a frame's nearest detection is the query person when its distance
    /// (Euclidean between L2-normalised embeddings) is at most this.
    pub match_distance: f32,
    /// Tracking: detections at or above this score are associated first and start tracks;
    /// those between `min_score` and this only extend tracks.
    pub high_score: f32,
    /// Tracking: hits before a track is reported; frames without one before it ends.
    pub n_init: usize,
    pub max_age: usize,
    /// Tracking: a new track is a person seen before (in any camera) when its appearance is
    /// within this distance of theirs.
    pub global_distance: f32,
    /// A `reid evaluate` results.json whose verification threshold at `calibration_far`
    /// replaces `match_distance` and `global_distance`.
    pub calibration: Option<PathBuf>,
    /// The false accept rate the calibrated threshold is taken at (one of results.json's).
    pub calibration_far: f64,
}

impl Default for TrackConfig {
    fn default() -> Self {
        Self {
            detector: None,
            model: None,
            min_score: 0.65,
            match_distance: 1.0,
            high_score: 0.75,
            n_init: 3,
            max_age: 30,
            global_distance: 0.9,
            calibration: None,
            calibration_far: 1e-3,
        }
    }
}
