//! The P×K identity sampler of the BoT / TAO `triplet` and `softmax_triplet` samplers: every
//! batch holds `P = batch_size / K` identities with `K = num_instances` images each, so each
//! anchor has positives and negatives for batch-hard triplet mining. An epoch's order depends
//! only on the seed and the epoch, so a resumed run sees the same batches.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};

/// Batches of indices into `pids` for one epoch. Identities with fewer than `k` images are
/// topped up by drawing their images again; an identity's images are split into groups of `k`,
/// and batches take `p` groups of distinct identities until fewer than `p` identities have groups
/// left. Returns no batch when there are fewer than `p` identities.
pub fn pk_batches(pids: &[i32], p: usize, k: usize, seed: u64, epoch: u32) -> Vec<Vec<usize>> {
    assert!(p > 0 && k > 0, "P and K must be positive");
    let mut rng = StdRng::seed_from_u64(seed ^ (u64::from(epoch) << 32));
    let mut by_pid: std::collections::BTreeMap<i32, Vec<usize>> = Default::default();
    for (i, &pid) in pids.iter().enumerate() {
        by_pid.entry(pid).or_default().push(i);
    }
    // Per identity, its groups of k images (as a stack to pop from).
    let mut groups: Vec<Vec<Vec<usize>>> = by_pid
        .into_values()
        .map(|mut idx| {
            if idx.len() < k {
                let extra: Vec<usize> = (idx.len()..k)
                    .map(|_| *idx.choose(&mut rng).expect("non-empty"))
                    .collect();
                idx.extend(extra);
            }
            idx.shuffle(&mut rng);
            idx.chunks_exact(k).map(<[usize]>::to_vec).collect()
        })
        .collect();
    let mut batches = Vec::new();
    loop {
        let available: Vec<usize> = (0..groups.len())
            .filter(|&i| !groups[i].is_empty())
            .collect();
        if available.len() < p {
            break;
        }
        let chosen: Vec<usize> = available.choose_multiple(&mut rng, p).copied().collect();
        batches.push(
            chosen
                .iter()
                .flat_map(|&i| groups[i].pop().expect("available"))
                .collect(),
        );
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_p_identities_with_k_images_each() {
        // 10 identities with 1..=10 images each.
        let pids: Vec<i32> = (1..=10)
            .flat_map(|p| std::iter::repeat_n(p, p as usize))
            .collect();
        let batches = pk_batches(&pids, 4, 3, 7, 0);
        assert!(!batches.is_empty());
        for b in &batches {
            assert_eq!(b.len(), 12);
            let mut counts = std::collections::BTreeMap::new();
            for &i in b {
                *counts.entry(pids[i]).or_insert(0) += 1;
            }
            assert_eq!(counts.len(), 4, "{counts:?}");
            assert!(counts.values().all(|&c| c == 3), "{counts:?}");
        }
        // Identity 10 has 10 images: three groups of 3 → it appears in at most 3 batches.
        let with_10 = batches
            .iter()
            .filter(|b| b.iter().any(|&i| pids[i] == 10))
            .count();
        assert!(with_10 <= 3);
    }

    #[test]
    fn order_depends_on_seed_and_epoch_only() {
        let pids: Vec<i32> = (0..200).map(|i| i / 5).collect();
        assert_eq!(pk_batches(&pids, 8, 4, 1, 3), pk_batches(&pids, 8, 4, 1, 3));
        assert_ne!(pk_batches(&pids, 8, 4, 1, 3), pk_batches(&pids, 8, 4, 1, 4));
        assert_ne!(pk_batches(&pids, 8, 4, 1, 3), pk_batches(&pids, 8, 4, 2, 3));
        assert!(pk_batches(&pids[..15], 8, 4, 1, 0).is_empty());
    }
}
