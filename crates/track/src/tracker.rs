//! Tracking within one camera, ByteTrack's two-stage association with DeepSORT-class appearance:
//! every track's box is predicted by its [`Motion`]; confident detections are matched to tracks
//! on a mix of IoU with the prediction and appearance (cosine distance to the track's averaged
//! embedding), then the remaining tracks take low-score detections on IoU alone. A track is
//! born tentative, confirmed after `n_init` consecutive hits, and dies after `max_age` frames
//! without one (a tentative track at its first miss).

use crate::kalman::Motion;
use crate::pipeline::Person;
use reid_evaluation::assignment::min_cost_matching;
use reid_modeling::{BBox, Detection};

/// How tracks are associated, born and ended.
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// Detections at or above this score are matched first and may start tracks.
    pub high_score: f32,
    /// Weight of appearance against motion (IoU) in the first stage.
    pub appearance_weight: f32,
    /// First-stage pairs costing more are not matched.
    pub max_cost: f32,
    /// A track and a detection that do not overlap match only if their appearance distance is
    /// below this (a person re-found after an occlusion).
    pub appearance_gate: f32,
    /// Second stage: least IoU with the prediction.
    pub low_min_iou: f32,
    pub n_init: usize,
    pub max_age: usize,
    /// Weight of the past in the track's embedding average.
    pub embedding_momentum: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            high_score: 0.6,
            appearance_weight: 0.5,
            max_cost: 0.7,
            appearance_gate: 0.25,
            low_min_iou: 0.5,
            n_init: 3,
            max_age: 30,
            embedding_momentum: 0.9,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Track {
    pub id: u64,
    motion: Motion,
    /// Running average of the matched embeddings, L2-normalised.
    pub embedding: Vec<f32>,
    hits: usize,
    pub missed: usize,
    pub confirmed: bool,
    /// The detection of this frame, when the track was matched in it.
    pub current: Option<Detection>,
    /// Identity across cameras, given by the caller.
    pub global_id: Option<u64>,
}

impl Track {
    fn update(&mut self, person: &Person, momentum: f32, n_init: usize) {
        self.motion.update(&person.detection.bbox);
        for (e, v) in self.embedding.iter_mut().zip(&person.embedding) {
            *e = momentum * *e + (1.0 - momentum) * v;
        }
        reid_data::l2_normalize(&mut self.embedding);
        self.hits += 1;
        self.missed = 0;
        self.confirmed |= self.hits >= n_init;
        self.current = Some(person.detection);
    }

    /// Where the track is expected in this frame.
    pub fn predicted(&self) -> BBox {
        self.motion.bbox()
    }
}

/// Cosine distance of unit vectors, in [0, 1] for the usual non-opposite embeddings.
fn appearance_distance(a: &[f32], b: &[f32]) -> f32 {
    (1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()).clamp(0.0, 2.0)
}

#[derive(Debug, Default)]
pub struct Tracker {
    pub config: TrackerConfig,
    pub tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            next_id: 1,
            ..Self::default()
        }
    }

    /// Advances one frame with its detected persons; afterwards each live track's `current`
    /// says whether (and where) it was seen in this frame.
    pub fn step(&mut self, persons: &[Person]) {
        let cfg = self.config;
        for t in &mut self.tracks {
            t.motion.predict();
            t.current = None;
        }
        let (high, low): (Vec<usize>, Vec<usize>) =
            (0..persons.len()).partition(|&i| persons[i].detection.score >= cfg.high_score);

        // Stage 1: confident detections against every track, motion + appearance.
        let predicted: Vec<BBox> = self.tracks.iter().map(Track::predicted).collect();
        let costs: Vec<f32> = self
            .tracks
            .iter()
            .zip(&predicted)
            .flat_map(|(t, p)| {
                high.iter().map(move |&d| {
                    let person = &persons[d];
                    let iou = p.iou(&person.detection.bbox);
                    let app = appearance_distance(&t.embedding, &person.embedding);
                    if iou <= 0.0 && app > cfg.appearance_gate {
                        f32::INFINITY
                    } else {
                        cfg.appearance_weight * app + (1.0 - cfg.appearance_weight) * (1.0 - iou)
                    }
                })
            })
            .collect();
        let first = min_cost_matching(&costs, self.tracks.len(), high.len(), cfg.max_cost);
        let mut track_matched = vec![false; self.tracks.len()];
        let mut det_matched = vec![false; persons.len()];
        for &(t, j) in &first {
            let d = high[j];
            self.tracks[t].update(&persons[d], cfg.embedding_momentum, cfg.n_init);
            track_matched[t] = true;
            det_matched[d] = true;
        }

        // Stage 2: the tracks left against low-score detections, on IoU alone.
        let left: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| !track_matched[t])
            .collect();
        let costs: Vec<f32> = left
            .iter()
            .flat_map(|&t| {
                let p = predicted[t];
                low.iter()
                    .map(move |&d| 1.0 - p.iou(&persons[d].detection.bbox))
            })
            .collect();
        for (i, j) in min_cost_matching(&costs, left.len(), low.len(), 1.0 - cfg.low_min_iou) {
            let (t, d) = (left[i], low[j]);
            // Low-score crops are often partial: they move the box, not the appearance.
            self.tracks[t].update(&persons[d], 1.0, cfg.n_init);
            track_matched[t] = true;
            det_matched[d] = true;
        }

        // Misses and deaths.
        for (t, matched) in self.tracks.iter_mut().zip(&track_matched) {
            if !matched {
                t.missed += 1;
            }
        }
        self.tracks
            .retain(|t| t.current.is_some() || (t.confirmed && t.missed <= cfg.max_age));
        // Births from unmatched confident detections.
        for &d in high.iter().filter(|&&d| !det_matched[d]) {
            let p = &persons[d];
            self.tracks.push(Track {
                id: self.next_id,
                motion: Motion::new(&p.detection.bbox),
                embedding: p.embedding.clone(),
                hits: 1,
                missed: 0,
                confirmed: cfg.n_init <= 1,
                current: Some(p.detection),
                global_id: None,
            });
            self.next_id += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x: f32, look: usize, score: f32) -> Person {
        let mut embedding = vec![0.0; 4];
        embedding[look] = 1.0;
        Person {
            detection: Detection {
                bbox: BBox {
                    x1: x,
                    y1: 0.0,
                    x2: x + 40.0,
                    y2: 100.0,
                },
                score,
            },
            embedding,
        }
    }

    fn seen(tracker: &Tracker) -> Vec<(u64, f32)> {
        let mut v: Vec<(u64, f32)> = tracker
            .tracks
            .iter()
            .filter(|t| t.confirmed)
            .filter_map(|t| t.current.map(|d| (t.id, d.bbox.x1)))
            .collect();
        v.sort_by_key(|&(id, _)| id);
        v
    }

    #[test]
    fn two_walkers_keep_their_ids_when_they_cross() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        // A walks right from 0, B walks left from 200, 10 px per frame: they cross at frame 10.
        for f in 0..21 {
            let x = 10.0 * f as f32;
            tracker.step(&[person(x, 0, 0.9), person(200.0 - x, 1, 0.9)]);
        }
        // Ids by creation order: A = 1, B = 2; after crossing A is at 200, B at 0.
        assert_eq!(seen(&tracker), vec![(1, 200.0), (2, 0.0)]);
    }

    #[test]
    fn a_track_survives_a_short_occlusion_and_low_scores_but_dies_after_max_age() {
        let cfg = TrackerConfig {
            max_age: 5,
            ..TrackerConfig::default()
        };
        let mut tracker = Tracker::new(cfg);
        for f in 0..5 {
            tracker.step(&[person(5.0 * f as f32, 2, 0.9)]);
        }
        assert_eq!(seen(&tracker), vec![(1, 20.0)]);
        // Hidden for 3 frames, then seen again with a low score: the same track.
        for _ in 0..3 {
            tracker.step(&[]);
        }
        tracker.step(&[person(40.0, 2, 0.4)]);
        assert_eq!(seen(&tracker), vec![(1, 40.0)]);
        // A low-score detection never starts a track; gone for longer than max_age, it ends.
        for _ in 0..6 {
            tracker.step(&[person(500.0, 3, 0.3)]);
        }
        assert!(tracker.tracks.is_empty());
    }
}
