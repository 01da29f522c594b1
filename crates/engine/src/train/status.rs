//! `status.jsonl`: one JSON line per finished epoch (losses, learning rate, speed, validation
//! metrics, checkpoint written). On resume the lines of epochs that will be trained again are
//! dropped, so the file always describes one consistent run.

use crate::error::EngineError;
use reid_evaluation::plots::training::{Curve, TrainingCurves};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStatus {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Mean total loss over the epoch's batches.
    pub loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_ce: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_triplet: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_center: Option<f64>,
    /// Base learning rate of the epoch.
    pub lr: f64,
    /// Training images per second (loading overlapped, validation excluded).
    pub img_per_s: f64,
    pub seconds: f64,
    /// Peak resident memory of the process so far, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank1: Option<f64>,
    #[serde(rename = "mAP", skip_serializing_if = "Option::is_none")]
    pub map: Option<f64>,
    /// Rank-1 and mAP after k-reciprocal re-ranking, when the spec enables `re_ranking`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank1_re_ranked: Option<f64>,
    #[serde(
        rename = "mAP_re_ranked",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub map_re_ranked: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
}

impl EpochStatus {
    /// The validation figures for the log (`", rank-1 48.24%, mAP 49.22%"`), empty without.
    pub fn metrics_text(&self) -> String {
        [
            (self.rank1, self.map, ""),
            (self.rank1_re_ranked, self.map_re_ranked, " re-ranked"),
        ]
        .into_iter()
        .filter_map(|(r, m, how)| {
            Some(format!(
                ", rank-1{how} {:.2}%, mAP{how} {:.2}%",
                100.0 * r?,
                100.0 * m?
            ))
        })
        .collect()
    }
}

/// The run's curves for the training-curves picture: losses, learning rate and, at validated
/// epochs, rank-1 / mAP (plain and re-ranked).
pub fn curves(lines: &[EpochStatus]) -> TrainingCurves {
    let curve = |name: &str, value: &dyn Fn(&EpochStatus) -> Option<f64>| Curve {
        name: name.to_owned(),
        points: lines
            .iter()
            .filter_map(|l| Some((f64::from(l.epoch), value(l)?)))
            .collect(),
    };
    let some = |c: Curve| (!c.points.is_empty()).then_some(c);
    TrainingCurves {
        losses: [
            curve("loss", &|l| Some(l.loss)),
            curve("cross-entropy", &|l| l.loss_ce),
            curve("triplet", &|l| l.loss_triplet),
            curve("center", &|l| l.loss_center),
        ]
        .into_iter()
        .filter_map(some)
        .collect(),
        lr: curve("lr", &|l| Some(l.lr)),
        scores: [
            curve("rank-1", &|l| l.rank1),
            curve("mAP", &|l| l.map),
            curve("rank-1 re-ranked", &|l| l.rank1_re_ranked),
            curve("mAP re-ranked", &|l| l.map_re_ranked),
        ]
        .into_iter()
        .filter_map(some)
        .collect(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| EngineError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Appends `status` as one line.
pub fn append(path: &Path, status: &EpochStatus) -> Result<(), EngineError> {
    let mut line = serde_json::to_string(status).expect("plain data");
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(io_error(path))
}

/// Reads the file's epochs (an unreadable trailing line, e.g. cut by a kill, is dropped).
pub fn read(path: &Path) -> Result<Vec<EpochStatus>, EngineError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    Ok(text
        .lines()
        .map_while(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Keeps only the epochs up to `epoch` (1-based), rewriting the file atomically.
pub fn keep_until(path: &Path, epoch: u32) -> Result<(), EngineError> {
    let kept: Vec<String> = read(path)?
        .into_iter()
        .filter(|s| s.epoch <= epoch)
        .map(|s| serde_json::to_string(&s).expect("plain data") + "\n")
        .collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = reid_modeling::sealed::shared_tempfile(dir).map_err(io_error(path))?;
    tmp.write_all(kept.concat().as_bytes())
        .map_err(io_error(path))?;
    tmp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(epoch: u32) -> EpochStatus {
        EpochStatus {
            epoch,
            loss: 1.5,
            loss_ce: Some(1.0),
            loss_triplet: None,
            loss_center: None,
            lr: 0.1,
            img_per_s: 3.0,
            seconds: 9.0,
            peak_rss_bytes: None,
            rank1: None,
            map: Some(0.5),
            rank1_re_ranked: None,
            map_re_ranked: None,
            checkpoint: None,
        }
    }

    #[test]
    fn lines_round_trip_and_resume_drops_later_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.jsonl");
        for e in 1..=3 {
            append(&path, &status(e)).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().next().unwrap().contains("\"mAP\":0.5"));
        assert!(!text.contains("loss_triplet"));
        // A line cut by a kill is ignored.
        std::fs::write(&path, text + "{\"epoch\": 4, \"lo").unwrap();
        assert_eq!(
            read(&path).unwrap(),
            (1..=3).map(status).collect::<Vec<_>>()
        );
        keep_until(&path, 2).unwrap();
        assert_eq!(read(&path).unwrap(), vec![status(1), status(2)]);
    }
}
