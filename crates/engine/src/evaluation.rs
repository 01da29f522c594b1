//! The one evaluation pipeline: labelled query and gallery sets → L2-normalised embeddings →
//! distances by the spec's ranking (`crate::ranking`) → Market metrics under the camera rule the
//! labels allow, and open-set verification (ROC, EER, TAR at fixed FAR) over the same pairs.
//! `reid evaluate`, validation during training and `reid export`'s INT8 check all call it.
//!
//! Camera rule: with camera ids on every image and at least two cameras, a gallery image of the
//! query's person *and camera* is left out (Market-1501's protocol). Without them (one camera,
//! or a layout that records none) that rule would drop every positive, so only the query image
//! itself is left out when the gallery holds it.

use crate::error::EngineError;
use crate::extract::{ExtractOptions, Extracted, extract};
use crate::ranking::Ranking;
use reid_config::{Metric, Spec};
use reid_data::dataset::summarize;
use reid_data::{Features, ImageRecord, ImageSet, Preprocessor};
use reid_evaluation::DistMat;
use reid_evaluation::metrics::{self, Labels, Metrics};
use reid_evaluation::verification::{self, FAR_TARGETS, Verification};
use reid_modeling::Embedder;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Labelled images with their L2-normalised embeddings, row-aligned.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub records: Vec<ImageRecord>,
    pub features: Features,
}

impl Embedded {
    /// Normalises `features` (one row per record).
    pub fn new(records: Vec<ImageRecord>, mut features: Features) -> Self {
        features.l2_normalize();
        Self { records, features }
    }
}

/// Which gallery images a query is not compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraRule {
    /// Same person and same camera left out (Market-1501).
    CrossCamera,
    /// Only the query image itself left out (data without usable camera ids).
    SameImage,
}

impl CameraRule {
    /// Cross-camera when every image has a camera id and there are at least two cameras.
    pub fn for_sets(query: &[ImageRecord], gallery: &[ImageRecord]) -> Self {
        let all = query.iter().chain(gallery);
        let cameras: Option<BTreeSet<u32>> = all.map(|r| r.camid).collect();
        match cameras {
            Some(c) if c.len() >= 2 => Self::CrossCamera,
            _ => Self::SameImage,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::CrossCamera => "same person + same camera excluded (cross-camera)",
            Self::SameImage => {
                "no usable camera ids: only the query image itself excluded (same-image rule)"
            }
        }
    }

    /// Per side, the group an image shares with the gallery images it is not compared with
    /// when they are the same person: its camera, or the image file itself.
    fn groups<'a>(
        self,
        query: &'a [ImageRecord],
        gallery: &'a [ImageRecord],
    ) -> (Vec<u32>, Vec<u32>) {
        match self {
            Self::CrossCamera => {
                let cams = |s: &[ImageRecord]| s.iter().map(|r| r.camid.unwrap_or(0)).collect();
                (cams(query), cams(gallery))
            }
            Self::SameImage => {
                let mut ids: HashMap<&Path, u32> = HashMap::new();
                let mut group = |side: &'a [ImageRecord]| -> Vec<u32> {
                    side.iter()
                        .map(|r| {
                            let next = ids.len() as u32;
                            *ids.entry(r.path.as_path()).or_insert(next)
                        })
                        .collect()
                };
                let q = group(query);
                (q, group(gallery))
            }
        }
    }
}

/// The outcome of ranking a gallery for every query.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub metrics: Metrics,
    pub distances: DistMat,
    pub ranking: Ranking,
    pub rule: CameraRule,
    pids: (Vec<i32>, Vec<i32>),
    groups: (Vec<u32>, Vec<u32>),
}

impl Evaluation {
    fn labels(&self) -> (Labels<'_>, Labels<'_>) {
        (
            Labels {
                pids: &self.pids.0,
                camids: &self.groups.0,
            },
            Labels {
                pids: &self.pids.1,
                camids: &self.groups.1,
            },
        )
    }

    /// Open-set verification over the pairs the ranking counts, on the Euclidean distance
    /// between the normalised embeddings (the distance `reid serve` and `reid track` compare
    /// with a threshold), at [`FAR_TARGETS`].
    pub fn verification(
        &self,
        query: &Embedded,
        gallery: &Embedded,
    ) -> Result<Verification, EngineError> {
        let euclidean = Ranking::Metric(Metric::Euclidean);
        let recomputed;
        let distances = if self.ranking == euclidean {
            &self.distances
        } else {
            recomputed = euclidean.distances(&query.features, &gallery.features);
            &recomputed
        };
        let (q, g) = self.labels();
        Ok(verification::evaluate(distances, q, g, &FAR_TARGETS)?)
    }

    /// The `k` best gallery indices of query `qi` under the camera rule, best first.
    pub fn top_matches(&self, qi: usize, k: usize) -> Vec<usize> {
        let (q, g) = self.labels();
        metrics::top_k(&self.distances, qi, q, g, k)
    }
}

/// Extraction settings from the spec: `dataset.val_batch_size`, `dataset.num_workers`,
/// `model.with_flip_feature`.
pub fn extract_options(spec: &Spec, label: &str) -> ExtractOptions {
    ExtractOptions {
        batch_size: spec.dataset.val_batch_size,
        flip: spec.model.with_flip_feature,
        workers: spec.dataset.num_workers,
        label: label.to_owned(),
    }
}

/// Embeds `paths` with `model`, logging the speed and the images that could not be read
/// (they are left out).
pub fn embed_paths(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    paths: &[PathBuf],
    opts: &ExtractOptions,
) -> Result<Extracted, EngineError> {
    let started = std::time::Instant::now();
    let out = extract(model, pre, paths, opts)?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        "{}: {} images embedded ({}-d) in {secs:.1} s, {:.1} img/s",
        opts.label,
        out.ok.len(),
        out.features.dim,
        out.ok.len() as f64 / secs
    );
    if !out.failed.is_empty() {
        tracing::warn!(
            "{}: {} images could not be read and were skipped{}",
            opts.label,
            out.failed.len(),
            summarize(&out.failed)
        );
    }
    Ok(out)
}

/// Embeds `set` with `model` (see [`embed_paths`]).
pub fn embed_set(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    set: &ImageSet,
    opts: &ExtractOptions,
) -> Result<Embedded, EngineError> {
    let paths: Vec<_> = set.items.iter().map(|r| r.path.clone()).collect();
    let out = embed_paths(model, pre, &paths, opts)?;
    let records = out.ok.iter().map(|&i| set.items[i].clone()).collect();
    Ok(Embedded::new(records, out.features))
}

/// Ranks the gallery for every query by `ranking` and scores it (CMC up to `max_rank`).
pub fn evaluate(
    query: &Embedded,
    gallery: &Embedded,
    ranking: &Ranking,
    max_rank: usize,
) -> Result<Evaluation, EngineError> {
    if query.features.dim != gallery.features.dim {
        return Err(EngineError::Config(format!(
            "query embeddings are {}-d but gallery embeddings are {}-d",
            query.features.dim, gallery.features.dim
        )));
    }
    let rule = CameraRule::for_sets(&query.records, &gallery.records);
    let pids = |s: &Embedded| s.records.iter().map(|r| r.pid).collect::<Vec<_>>();
    let mut evaluation = Evaluation {
        metrics: Metrics {
            cmc: Vec::new(),
            map: 0.0,
            minp: 0.0,
            num_valid_query: 0,
        },
        distances: ranking.distances(&query.features, &gallery.features),
        ranking: *ranking,
        rule,
        pids: (pids(query), pids(gallery)),
        groups: rule.groups(&query.records, &gallery.records),
    };
    let (q, g) = evaluation.labels();
    let m = metrics::evaluate(&evaluation.distances, q, g, max_rank);
    if m.num_valid_query == 0 {
        return Err(EngineError::Config(format!(
            "no query has a true match in the gallery ({}): check the query/test sets",
            rule.describe()
        )));
    }
    evaluation.metrics = m;
    Ok(evaluation)
}

/// The distance threshold of a `reid evaluate` results.json at false accept rate `far` (one of
/// the rates it reports).
pub fn calibrated_threshold(results: &Path, far: f64) -> Result<f32, EngineError> {
    let bad = |message: String| EngineError::Calibration {
        path: results.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(results).map_err(|source| EngineError::Io {
        path: results.to_owned(),
        source,
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let v = &json["verification"];
    let fars: Vec<f64> = serde_json::from_value(v["far"].clone())
        .map_err(|_| bad("no verification.far (written by reid evaluate)".into()))?;
    let Some(i) = fars
        .iter()
        .position(|f| (f - far).abs() <= 1e-12 * far.max(1e-300))
    else {
        return Err(bad(format!(
            "no threshold at FAR {far}; it has FAR {fars:?}"
        )));
    };
    match v["threshold"][i].as_f64() {
        Some(t) if t.is_finite() => Ok(t as f32),
        _ => Err(bad(format!(
            "no threshold at FAR {far}: no genuine pair is accepted there"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str, pid: i32, camid: Option<u32>) -> ImageRecord {
        ImageRecord {
            path: PathBuf::from(path),
            pid,
            camid,
        }
    }

    fn embedded(records: Vec<ImageRecord>, rows: &[[f32; 2]]) -> Embedded {
        Embedded::new(records, Features::from_rows(2, rows.concat()))
    }

    #[test]
    fn the_rule_follows_the_cameras() {
        let two = [rec("a", 1, Some(1)), rec("b", 1, Some(2))];
        assert_eq!(
            CameraRule::for_sets(&two[..1], &two[1..]),
            CameraRule::CrossCamera
        );
        let one = [rec("a", 1, Some(1)), rec("b", 1, Some(1))];
        assert_eq!(
            CameraRule::for_sets(&one[..1], &one[1..]),
            CameraRule::SameImage
        );
        let some = [rec("a", 1, Some(1)), rec("b", 1, None)];
        assert_eq!(
            CameraRule::for_sets(&some[..1], &some[1..]),
            CameraRule::SameImage
        );
    }

    #[test]
    fn single_camera_data_keeps_its_positives_but_not_the_query_itself() {
        // One camera: under Market's rule every positive would be dropped.
        let query = embedded(
            vec![rec("q1", 1, Some(1)), rec("q2", 2, Some(1))],
            &[[1.0, 0.0], [0.0, 1.0]],
        );
        let gallery = embedded(
            vec![
                rec("q1", 1, Some(1)),
                rec("g1", 1, Some(1)),
                rec("g2", 2, Some(1)),
            ],
            &[[1.0, 0.0], [0.9, 0.1], [0.1, 0.9]],
        );
        let ranking = Ranking::Metric(reid_config::Metric::Euclidean);
        let ev = evaluate(&query, &gallery, &ranking, 3).unwrap();
        assert_eq!(ev.rule, CameraRule::SameImage);
        assert_eq!(ev.metrics.num_valid_query, 2);
        assert_eq!(ev.metrics.rank(1), 1.0);
        // q1's own image (gallery 0) is not among its matches.
        assert_eq!(ev.top_matches(0, 3), vec![1, 2]);
    }

    #[test]
    fn cross_camera_data_drops_same_camera_matches() {
        let query = embedded(vec![rec("q", 1, Some(1))], &[[1.0, 0.0]]);
        let gallery = embedded(
            vec![
                rec("same", 1, Some(1)),
                rec("other", 1, Some(2)),
                rec("x", 2, Some(2)),
            ],
            &[[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]],
        );
        let ranking = Ranking::Metric(reid_config::Metric::Euclidean);
        let ev = evaluate(&query, &gallery, &ranking, 2).unwrap();
        assert_eq!(ev.rule, CameraRule::CrossCamera);
        assert_eq!(ev.top_matches(0, 3), vec![2, 1]);
        assert_eq!(ev.metrics.rank(1), 0.0);
        assert_eq!(ev.metrics.map, 0.5);
    }
}
