//! TAO's `status.json` in the command's results folder: one JSON object per line, appended and
//! flushed as the command goes — `date` (`M/D/YYYY`), `time` (`H:M:S`, local), `status`
//! (`STARTED`, `RUNNING`, `SUCCESS`, `FAILURE`), `verbosity`, `message` and, once set, `kpi` —
//! so tools that follow a TAO job can follow a reid one.

use crate::error::EngineError;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's name, as TAO writes it.
pub const STATUS_JSON: &str = "status.json";

/// A command's status.json.
pub struct TaoStatus {
    path: PathBuf,
    /// TAO's mode name: `train`, `evaluate`, `inference` or `export`.
    mode: &'static str,
    /// The last KPIs, repeated on every later line as TAO does.
    kpi: Option<Map<String, Value>>,
}

impl TaoStatus {
    /// Appends the `STARTED` line to `dir/status.json`.
    pub fn start(dir: &Path, mode: &'static str) -> Result<Self, EngineError> {
        let mut status = Self {
            path: dir.join(STATUS_JSON),
            mode,
            kpi: None,
        };
        status.write("STARTED", &format!("Starting ReIdentification {mode}."))?;
        Ok(status)
    }

    /// A `RUNNING` line with `kpi` merged into the KPIs so far.
    pub fn kpi(&mut self, message: &str, kpi: Map<String, Value>) -> Result<(), EngineError> {
        self.kpi.get_or_insert_with(Map::new).extend(kpi);
        self.write("RUNNING", message)
    }

    /// The last line: `SUCCESS`, or `FAILURE` with the error; hands `result` back.
    pub fn finish<T, E: std::fmt::Display>(mut self, result: Result<T, E>) -> Result<T, E> {
        let mode = capitalised(self.mode);
        let line = match &result {
            Ok(_) => self.write("SUCCESS", &format!("{mode} finished successfully.")),
            Err(e) => self.write("FAILURE", &format!("{mode} failed: {e:#}")),
        };
        if let Err(e) = line {
            tracing::warn!("{e}");
        }
        result
    }

    fn write(&mut self, status: &str, message: &str) -> Result<(), EngineError> {
        let now = chrono::Local::now();
        let mut line = json!({
            "date": now.format("%-m/%-d/%Y").to_string(),
            "time": now.format("%-H:%-M:%-S").to_string(),
            "status": status,
            "verbosity": if status == "FAILURE" { "ERROR" } else { "INFO" },
            "message": message,
        });
        if let Some(kpi) = &self.kpi {
            line["kpi"] = Value::Object(kpi.clone());
        }
        let io = |source| EngineError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        writeln!(file, "{line}")
            .and_then(|()| file.flush())
            .map_err(io)
    }
}

fn capitalised(mode: &str) -> String {
    let mut chars = mode.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
