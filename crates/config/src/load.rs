//! Turning a YAML spec file plus `section.key=value` overrides into a checked [`Spec`]:
//! TAO's names and keys are read first (`crate::tao`), then unknown keys are reported with their
//! dotted path and the closest valid key, `${key}` references resolved, wrong types reported
//! with the path serde stopped at, and out-of-range values by [`Spec::validate`].

use crate::error::ConfigError;
use crate::spec::Spec;
use crate::tao;
use serde_yaml::{Mapping, Value};
use std::path::Path;

impl Spec {
    /// Reads `path` (YAML), applies `overrides` (`section.key=value`) and checks the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Spec, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Spec::from_yaml_str(&text, &path.display().to_string(), overrides)
    }

    /// Like [`Spec::load`] for spec text already in memory; `origin` names it in errors.
    pub fn from_yaml_str(
        text: &str,
        origin: &str,
        overrides: &[String],
    ) -> Result<Spec, ConfigError> {
        let mut value: Value = if text.trim().is_empty() {
            Value::Mapping(Mapping::new())
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml {
                origin: origin.to_owned(),
                message: e.to_string(),
            })?
        };
        if value.is_null() {
            value = Value::Mapping(Mapping::new());
        }
        tao::rename_aliases(&mut value);
        tao::take_unsupported(&mut value, origin)?;
        let schema = serde_yaml::to_value(Spec::default()).expect("the default spec serialises");
        check_keys(&value, &schema, "", origin)?;
        for arg in overrides {
            apply_override(&mut value, &schema, arg)?;
        }
        tao::take_unsupported(&mut value, "command line")?;
        tao::interpolate(&mut value, origin)?;
        let device_set = value.get("device").is_some_and(|d| !d.is_null());
        let mut spec: Spec =
            serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Type {
                origin: origin.to_owned(),
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        spec.device_set = device_set;
        spec.validate()?;
        Ok(spec)
    }
}

/// Every key of `value` must exist in `schema` (the default spec), recursively.
fn check_keys(
    value: &Value,
    schema: &Value,
    prefix: &str,
    origin: &str,
) -> Result<(), ConfigError> {
    let (Value::Mapping(map), Value::Mapping(known)) = (value, schema) else {
        return Ok(());
    };
    for (key, child) in map {
        let name = key_name(key);
        let path = join(prefix, &name);
        match known.get(Value::String(name.clone())) {
            Some(child_schema) => check_keys(child, child_schema, &path, origin)?,
            None => {
                return Err(ConfigError::UnknownKey {
                    origin: origin.to_owned(),
                    key: path,
                    suggestion: closest_key(&name, known).map(|k| join(prefix, &k)),
                });
            }
        }
    }
    Ok(())
}

/// Optional keys that hold numbers (the other optional keys hold paths or text).
const OPTIONAL_NUMBERS: &[&str] = &[
    "gpu_id",
    "num_gpus",
    "num_nodes",
    "validation_interval",
    "warmup_iters",
];

/// Sets `section.key=value` in the YAML tree. The value is read as YAML (`true`, `0.3`,
/// `[1, 2]`), except where the spec expects text, so `evaluate.checkpoint=0001` stays a path.
fn apply_override(value: &mut Value, schema: &Value, arg: &str) -> Result<(), ConfigError> {
    let bad = |message: String| ConfigError::Override {
        arg: arg.to_owned(),
        message,
    };
    let (path, raw) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected section.key=value".into()))?;
    let path = tao::canonical(path).to_owned();
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty key name".into()));
    }
    if tao::is_unsupported(&path) {
        // Checked with the spec's own keys once every override is in.
        let parsed: Value = serde_yaml::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
        tao::set(value, &path, parsed);
        return Ok(());
    }
    let mut node = value;
    let mut known = schema;
    for (i, part) in parts.iter().enumerate() {
        let prefix = parts[..i].join(".");
        let Value::Mapping(known_map) = known else {
            return Err(bad(format!("`{prefix}` is not a section")));
        };
        let Some(child_schema) = known_map.get(Value::String((*part).to_owned())) else {
            return Err(ConfigError::UnknownKey {
                origin: "command line".into(),
                key: path.clone(),
                suggestion: closest_key(part, known_map).map(|k| join(&prefix, &k)),
            });
        };
        known = child_schema;
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            unreachable!("made a mapping above")
        };
        node = map
            .entry(Value::String((*part).to_owned()))
            .or_insert(Value::Null);
    }
    let parsed: Value = serde_yaml::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
    let leaf = parts[parts.len() - 1];
    let wants_text = match known {
        Value::String(_) => true,
        Value::Null => !OPTIONAL_NUMBERS.contains(&leaf),
        _ => false,
    };
    *node = match parsed {
        // `key=null` (or `~`) unsets an optional key.
        Value::Null if matches!(raw, "null" | "~") => Value::Null,
        Value::Number(_) | Value::Bool(_) | Value::Null if wants_text => {
            Value::String(raw.to_owned())
        }
        other => other,
    };
    Ok(())
}

fn key_name(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The known key most similar to `name`, if any is reasonably close.
fn closest_key(name: &str, known: &Mapping) -> Option<String> {
    known
        .keys()
        .filter_map(|k| k.as_str())
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_owned())
}
