//! Errors of spec loading: every variant names the file or key at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read spec file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: not valid YAML: {message}")]
    Yaml { origin: String, message: String },
    #[error("{origin}: unknown key `{key}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        origin: String,
        key: String,
        suggestion: Option<String>,
    },
    #[error("{origin}: key `{key}`: {message}")]
    Type {
        origin: String,
        key: String,
        message: String,
    },
    #[error("override `{arg}`: {message}")]
    Override { arg: String, message: String },
    #[error("key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error(
        "{origin}: `{key}: {value}` is a TAO key reid does not support ({what}); remove it or \
         set it to `{default}`, which asks for nothing reid lacks"
    )]
    TaoUnsupported {
        origin: String,
        key: String,
        value: String,
        what: String,
        default: String,
    },
    #[error("missing setting: give {keys} (in the spec or as section.key=… on the command line)")]
    Missing { keys: String },
}
