//! TAO's keys that reid reads differently or not at all, in one place: names of other TAO
//! releases (read as today's), TAO 5 keys whose feature reid does not have (accepted at TAO's
//! default, where they leave the behaviour as reid's; refused with a message otherwise — never
//! silently ignored), OmegaConf's `${key}` interpolation, and TAO's GPU keys, which choose the
//! `device`.

use crate::error::ConfigError;
use crate::spec::{DeviceKind, Spec};
use serde_yaml::{Mapping, Value};

/// Keys of other TAO releases and their reid names (full dotted paths; the current name wins
/// when a spec has both).
pub(crate) const ALIASES: &[(&str, &str)] = &[
    ("train.optim.steps", "train.optim.lr_steps"),
    ("train.grad_clip", "train.clip_grad_norm"),
    ("train.resume_training_checkpoint_path", "train.resume"),
    ("re_ranking.num_query", "evaluate.num_sampled_matches"),
];

/// TAO 5 keys of features reid does not have: (key, the value that asks for nothing reid lacks
/// — TAO's default, except for `wandb.enable`, on by default in TAO 5.5 —, what it is).
const UNSUPPORTED: &[(&str, &str, &str)] = &[
    (
        "model.id_loss_type",
        "softmax",
        "margin-based ID heads (arcface, cosface, amsoftmax, circle)",
    ),
    ("model.id_loss_weight", "1.0", "a weight on the ID loss"),
    (
        "model.triplet_loss_weight",
        "1.0",
        "a weight on the triplet loss",
    ),
    ("model.cos_layer", "false", "a cosine classifier layer"),
    ("model.dropout_rate", "0.0", "dropout before the classifier"),
    (
        "model.drop_path",
        "0.1",
        "Swin stochastic depth of TAO's transformer (reid's Swin uses 0.1)",
    ),
    ("model.drop_out", "0.0", "Swin dropout"),
    ("model.att_drop_rate", "0.0", "Swin attention dropout"),
    (
        "model.reduce_feat_dim",
        "false",
        "a linear layer reducing the Swin feature to feat_dim",
    ),
    ("model.gem_pooling", "false", "GeM pooling"),
    ("model.stem_conv", "false", "a convolutional Swin stem"),
    ("model.jpm", "false", "TransReID's jigsaw patch module"),
    ("model.shift_num", "5", "TransReID's jigsaw patch module"),
    (
        "model.shuffle_group",
        "2",
        "TransReID's jigsaw patch module",
    ),
    (
        "model.devide_length",
        "4",
        "TransReID's jigsaw patch module",
    ),
    (
        "model.re_arrange",
        "true",
        "TransReID's jigsaw patch module",
    ),
    ("model.semantic_weight", "1.0", "SOLIDER's semantic weight"),
    (
        "model.sie_coe",
        "3.0",
        "TransReID's side-information embedding",
    ),
    (
        "model.sie_camera",
        "false",
        "TransReID's side-information embedding",
    ),
    (
        "model.sie_view",
        "false",
        "TransReID's side-information embedding",
    ),
    (
        "train.optim.lr_monitor",
        "val_loss",
        "Lightning's plateau-scheduler metric",
    ),
    (
        "train.optim.cosine_margin",
        "0.5",
        "margin of the margin-based ID heads",
    ),
    (
        "train.optim.cosine_scale",
        "30",
        "scale of the margin-based ID heads",
    ),
    ("train.optim.trp_l2", "false", "an option TAO reads nowhere"),
    (
        "train.cudnn.benchmark",
        "false",
        "cuDNN autotuning (reid does not use cuDNN)",
    ),
    (
        "train.cudnn.deterministic",
        "true",
        "cuDNN determinism (reid does not use cuDNN)",
    ),
    ("wandb.enable", "false", "Weights & Biases logging"),
];

/// Other `wandb.*` keys mean nothing once `wandb.enable` is false; a `wandb` section without
/// `enable` is on, as in TAO.
const WANDB: &str = "wandb";

fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |node, part| node.get(part))
}

fn remove(value: &mut Value, path: &str) -> Option<Value> {
    let (parent, leaf) = path.rsplit_once('.').unwrap_or(("", path));
    let node = if parent.is_empty() {
        Some(value)
    } else {
        parent
            .split('.')
            .try_fold(value, |node, part| node.get_mut(part))
    };
    match node {
        Some(Value::Mapping(map)) => map.remove(leaf),
        _ => None,
    }
}

/// Sets `path` (creating sections), replacing what it held.
pub(crate) fn set(value: &mut Value, path: &str, new: Value) {
    remove(value, path);
    insert_absent(value, path, new);
}

/// Sets `path` (creating sections) unless it already holds a value.
fn insert_absent(value: &mut Value, path: &str, new: Value) {
    let mut node = value;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            unreachable!("made a mapping above")
        };
        node = map
            .entry(Value::String((*part).to_owned()))
            .or_insert(Value::Mapping(Mapping::new()));
    }
    if let Value::Mapping(map) = node {
        map.entry(Value::String(parts[parts.len() - 1].to_owned()))
            .or_insert(new);
    }
}

/// The reid name of a dotted key.
pub(crate) fn canonical(path: &str) -> &str {
    ALIASES
        .iter()
        .find(|(old, _)| *old == path)
        .map_or(path, |(_, new)| new)
}

/// Moves aliased keys of the YAML tree to their reid names.
pub(crate) fn rename_aliases(value: &mut Value) {
    for (old, new) in ALIASES {
        if let Some(v) = remove(value, old) {
            insert_absent(value, new, v);
        }
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Takes the unsupported TAO keys out of the tree: those at the table's value are dropped (they
/// ask for nothing reid does not do), any other value is an error naming the key.
pub(crate) fn take_unsupported(value: &mut Value, origin: &str) -> Result<(), ConfigError> {
    if let Some(Value::Mapping(w)) = value.get_mut(WANDB) {
        w.entry(Value::String("enable".into()))
            .or_insert(Value::Bool(true));
    }
    for (key, default, what) in UNSUPPORTED {
        let Some(v) = get(value, key) else { continue };
        let default: Value = serde_yaml::from_str(default).expect("the table's defaults are YAML");
        if !same_value(v, &default) {
            return Err(ConfigError::TaoUnsupported {
                origin: origin.to_owned(),
                key: (*key).to_owned(),
                value: serde_yaml::to_string(v)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                what: (*what).to_owned(),
                default: serde_yaml::to_string(&default)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            });
        }
        remove(value, key);
    }
    if matches!(get(value, "train.cudnn"), Some(Value::Mapping(m)) if m.is_empty()) {
        remove(value, "train.cudnn");
    }
    remove(value, WANDB);
    Ok(())
}

/// Whether `key` (dotted) is one of [`UNSUPPORTED`], for command-line overrides.
pub(crate) fn is_unsupported(key: &str) -> bool {
    key == WANDB || key.starts_with("wandb.") || UNSUPPORTED.iter().any(|(k, ..)| *k == key)
}

/// Replaces `${dotted.key}` in every string of the tree with that key's value (OmegaConf's
/// interpolation, as TAO's `"${results_dir}/train"`); a reference to a missing or non-scalar key
/// is an error naming both.
pub(crate) fn interpolate(value: &mut Value, origin: &str) -> Result<(), ConfigError> {
    let root = value.clone();
    walk(value, "", &root, origin)
}

fn walk(node: &mut Value, path: &str, root: &Value, origin: &str) -> Result<(), ConfigError> {
    match node {
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.as_str().unwrap_or_default();
                let child = if path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{path}.{key}")
                };
                walk(v, &child, root, origin)?;
            }
        }
        Value::Sequence(items) => {
            for v in items {
                walk(v, path, root, origin)?;
            }
        }
        Value::String(s) if s.contains("${") => {
            *s = substitute(s, root, 0).map_err(|message| ConfigError::Type {
                origin: origin.to_owned(),
                key: path.to_owned(),
                message,
            })?;
        }
        _ => {}
    }
    Ok(())
}

fn substitute(text: &str, root: &Value, depth: usize) -> Result<String, String> {
    if depth > 8 {
        return Err(format!(
            "`{text}`: interpolation nested too deeply (a cycle?)"
        ));
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            return Err(format!("`{text}`: `${{` without a closing `}}`"));
        };
        let key = &rest[start + 2..start + len];
        let value = match get(root, canonical(key)) {
            Some(Value::String(s)) => substitute(s, root, depth + 1)?,
            Some(v @ (Value::Number(_) | Value::Bool(_))) => serde_yaml::to_string(v)
                .unwrap_or_default()
                .trim()
                .to_owned(),
            _ => {
                return Err(format!(
                    "`{text}` refers to `{key}`, which is not set to a value"
                ));
            }
        };
        out.push_str(&value);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The first of a section's TAO GPU keys that is set, as `section.key value`.
fn asked(
    section: &str,
    gpu_id: Option<u32>,
    gpu_ids: Option<&Vec<u32>>,
    num_gpus: Option<u32>,
) -> Option<String> {
    gpu_ids
        .map(|v| format!("{section}.gpu_ids {v:?}"))
        .or_else(|| gpu_id.map(|n| format!("{section}.gpu_id {n}")))
        .or_else(|| num_gpus.map(|n| format!("{section}.num_gpus {n}")))
}

impl Spec {
    /// Resolves TAO's GPU keys (`train.num_gpus / gpu_ids / num_nodes`, `evaluate.*`,
    /// `inference.*`, `export.gpu_id`) when the spec does not set `device` itself: a GPU asked
    /// for runs on `wgpu` where this reid has a GPU backend (`gpu_backend`), else on the CPU.
    /// Returns the line to tell the user, if any. Training on more than one device is refused.
    pub fn resolve_gpu_keys(&mut self, gpu_backend: bool) -> Result<Option<String>, ConfigError> {
        let t = &self.train;
        let several = |key: &str, n: usize| {
            (n > 1).then(|| ConfigError::TaoUnsupported {
                origin: "spec".into(),
                key: key.to_owned(),
                value: n.to_string(),
                what: "data-parallel training on several devices".into(),
                default: "1".into(),
            })
        };
        for (key, n) in [
            ("train.num_gpus", t.num_gpus.unwrap_or(1) as usize),
            ("train.gpu_ids", t.gpu_ids.as_ref().map_or(1, Vec::len)),
            ("train.num_nodes", t.num_nodes.unwrap_or(1) as usize),
        ] {
            if let Some(e) = several(key, n) {
                return Err(e);
            }
        }
        let (e, inf) = (&self.evaluate, &self.inference);
        let asked = asked("train", None, t.gpu_ids.as_ref(), t.num_gpus)
            .or_else(|| asked("evaluate", e.gpu_id, e.gpu_ids.as_ref(), e.num_gpus))
            .or_else(|| asked("inference", inf.gpu_id, inf.gpu_ids.as_ref(), inf.num_gpus))
            .or_else(|| asked("export", self.export.gpu_id, None, None));
        let Some(asked) = asked else { return Ok(None) };
        if self.device_set {
            return Ok(None);
        }
        Ok(Some(if gpu_backend {
            self.device = DeviceKind::Wgpu;
            format!("{asked} (TAO): running native models on the GPU (device wgpu)")
        } else {
            format!(
                "{asked} (TAO): this reid has no GPU backend (built without the `wgpu` feature); \
                 running on the CPU"
            )
        }))
    }
}
