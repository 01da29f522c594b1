//! Training data: the labelled train sets (identities relabelled 0..N as BoT does, each set's
//! apart), each epoch's batches (P×K for the triplet samplers, shuffled fixed-size batches for
//! `softmax`), and a loader thread that decodes and augments the next batch while the model
//! trains on the current one.

use crate::error::EngineError;
use reid_config::{DataSource, Sampler};
use reid_data::sampler::pk_batches;
use reid_data::{Augmenter, ImageSet, Skipped};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;

/// The training images and their class labels.
#[derive(Debug, Clone)]
pub struct TrainSet {
    pub paths: Vec<PathBuf>,
    /// Class of each image: the rank of its (set, person id) among all the sets' identities.
    pub labels: Vec<i64>,
    pub num_classes: usize,
    /// How many sets were combined, and their paths for messages.
    pub sources: usize,
    roots: Vec<PathBuf>,
}

impl TrainSet {
    /// Reads one or several training sets in their layouts (distractors are not trained on);
    /// the same person id in two sets is two identities, as in fast-reid's combineall.
    pub fn read(sources: &[DataSource]) -> Result<Self, EngineError> {
        let mut keyed = Vec::new();
        let mut roots = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let set = ImageSet::read(source)?;
            tracing::info!("train {}", set.describe());
            roots.push(set.root.clone());
            keyed.extend(
                set.items
                    .iter()
                    .filter(|r| !set.is_distractor(r))
                    .map(|r| ((index, r.pid), r.path.clone())),
            );
        }
        let classes: BTreeMap<(usize, i32), i64> = keyed
            .iter()
            .map(|(key, _)| *key)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .zip(0..)
            .collect();
        Ok(Self {
            labels: keyed.iter().map(|(key, _)| classes[key]).collect(),
            paths: keyed.into_iter().map(|(_, p)| p).collect(),
            num_classes: classes.len(),
            sources: sources.len(),
            roots,
        })
    }

    /// The sets' paths, comma-separated.
    pub fn describe_sources(&self) -> String {
        let names: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        names.join(", ")
    }

    /// The batches (indices into the set) of `epoch`, which depend only on the seed and epoch.
    pub fn batches(
        &self,
        sampler: Sampler,
        batch_size: usize,
        num_instances: usize,
        seed: u64,
        epoch: u32,
    ) -> Vec<Vec<usize>> {
        match sampler {
            Sampler::Softmax => {
                use rand::SeedableRng;
                use rand::seq::SliceRandom;
                let mut order: Vec<usize> = (0..self.paths.len()).collect();
                let mut rng = rand::rngs::StdRng::seed_from_u64(mix(seed, u64::from(epoch)));
                order.shuffle(&mut rng);
                order
                    .chunks_exact(batch_size)
                    .map(<[usize]>::to_vec)
                    .collect()
            }
            Sampler::Triplet | Sampler::SoftmaxTriplet => {
                let pids: Vec<i32> = self.labels.iter().map(|&l| l as i32).collect();
                let k = num_instances.max(1);
                pk_batches(&pids, (batch_size / k).max(1), k, seed, epoch)
            }
        }
    }
}

/// One decoded, augmented batch.
pub struct LoadedBatch {
    /// NCHW values of the images that could be read.
    pub tensor: Vec<f32>,
    pub labels: Vec<i64>,
    pub failed: Vec<Skipped>,
}

/// SplitMix64 of two values: independent, reproducible seeds per (run, epoch, image slot).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Starts a thread (in `scope`) that loads `batches` in order, one ahead of the consumer.
pub fn spawn_loader<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    set: &'env TrainSet,
    augmenter: &'env Augmenter,
    batches: &'env [Vec<usize>],
    seed: u64,
) -> mpsc::Receiver<LoadedBatch> {
    let (tx, rx) = mpsc::sync_channel(1);
    scope.spawn(move || {
        for (b, batch) in batches.iter().enumerate() {
            let paths: Vec<PathBuf> = batch.iter().map(|&i| set.paths[i].clone()).collect();
            let seeds: Vec<u64> = (0..batch.len())
                .map(|slot| mix(seed, (b as u64) << 20 | slot as u64))
                .collect();
            let loaded = augmenter.load_batch(&paths, &seeds);
            let out = LoadedBatch {
                labels: loaded.ok.iter().map(|&i| set.labels[batch[i]]).collect(),
                tensor: loaded.tensor,
                failed: loaded.failed,
            };
            if tx.send(out).is_err() {
                return; // the trainer stopped
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n_ids: usize, per_id: usize) -> TrainSet {
        TrainSet {
            paths: (0..n_ids * per_id)
                .map(|i| PathBuf::from(format!("{i}.jpg")))
                .collect(),
            labels: (0..n_ids * per_id).map(|i| (i / per_id) as i64).collect(),
            num_classes: n_ids,
            sources: 1,
            roots: Vec::new(),
        }
    }

    #[test]
    fn combined_sets_keep_their_identities_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = Vec::new();
        for (set, names) in [
            (
                "a",
                &[
                    "0001_c1s1_000001_00.jpg",
                    "0001_c2s1_000002_00.jpg",
                    "0002_c1s1_000003_00.jpg",
                ][..],
            ),
            (
                "b",
                &[
                    "0001_c1_f0000001.jpg",
                    "0000_c1_f0000002.jpg",
                    "0003_c2_f0000003.jpg",
                ][..],
            ),
        ] {
            let d = dir.path().join(set);
            std::fs::create_dir(&d).unwrap();
            for n in names {
                std::fs::write(d.join(n), b"x").unwrap();
            }
            sources.push(DataSource {
                path: d,
                layout: None,
            });
        }
        let s = TrainSet::read(&sources).unwrap();
        // a: ids 1, 2; b: ids 1, 3 (its distractor 0 is not trained on) — four classes.
        assert_eq!(s.num_classes, 4);
        assert_eq!(s.labels, [0, 0, 1, 2, 3]);
        assert_eq!(s.sources, 2);
        assert!(s.describe_sources().contains(", "));
    }

    #[test]
    fn softmax_batches_cover_the_set_once_per_epoch() {
        let s = set(10, 5);
        let batches = s.batches(Sampler::Softmax, 8, 4, 3, 0);
        assert_eq!(batches.len(), 50 / 8);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 48);
        assert_ne!(batches, s.batches(Sampler::Softmax, 8, 4, 3, 1));
    }

    #[test]
    fn triplet_batches_are_p_by_k() {
        let s = set(10, 8);
        for batch in s.batches(Sampler::SoftmaxTriplet, 16, 4, 3, 2) {
            let mut per_class = BTreeMap::new();
            for i in batch {
                *per_class.entry(s.labels[i]).or_insert(0) += 1;
            }
            assert_eq!(per_class.len(), 4);
            assert!(per_class.values().all(|&k| k == 4));
        }
    }
}
