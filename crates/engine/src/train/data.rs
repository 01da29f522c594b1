//! Training data: the labelled train set (person ids relabelled 0..N as BoT does), each epoch's
//! batches (P×K for the triplet samplers, shuffled fixed-size batches for `softmax`), and a loader
//! thread that decodes and augments the next batch while the model trains on the current one.

use crate::error::EngineError;
use reid_config::Sampler;
use reid_data::dataset::summarize;
use reid_data::sampler::pk_batches;
use reid_data::{Augmenter, ImageSet, Skipped};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// The training images and their class labels.
#[derive(Debug, Clone)]
pub struct TrainSet {
    pub paths: Vec<PathBuf>,
    /// Class of each image: its person id's rank among the set's ids.
    pub labels: Vec<i64>,
    pub num_classes: usize,
}

impl TrainSet {
    /// Reads a Market-1501-layout train folder (distractors, pid 0, are not trained on).
    pub fn read(dir: &Path) -> Result<Self, EngineError> {
        let set = ImageSet::read_market(dir)?;
        if !set.skipped.is_empty() {
            tracing::warn!(
                "train: {} files skipped, names not in Market-1501 form{}",
                set.skipped.len(),
                summarize(&set.skipped)
            );
        }
        let items: Vec<_> = set.items.into_iter().filter(|r| r.pid > 0).collect();
        let classes: BTreeMap<i32, i64> = items
            .iter()
            .map(|r| r.pid)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .zip(0..)
            .collect();
        Ok(Self {
            labels: items.iter().map(|r| classes[&r.pid]).collect(),
            paths: items.into_iter().map(|r| r.path).collect(),
            num_classes: classes.len(),
        })
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
        }
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
