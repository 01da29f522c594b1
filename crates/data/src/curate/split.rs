//! A folder-per-identity set split into train / query / gallery by identity, reproducibly from a
//! seed, as Market-1501 was made: a share of the identities (shuffled) is held out for testing,
//! and of each held-out identity one image per camera becomes a query and the rest the gallery,
//! every camera keeping a gallery image (without camera ids: one image a query, the rest the
//! gallery). A held-out identity that could not be matched — one camera where cameras are
//! known, or a single image — goes to the gallery only, as a distractor. The result is written in the folders layout, paths below each
//! identity kept.

use super::copy_file;
use crate::dataset::{ImageRecord, ImageSet};
use crate::error::DataError;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

/// The three splits.
#[derive(Debug, Default)]
pub struct Plan {
    pub train: Vec<ImageRecord>,
    pub query: Vec<ImageRecord>,
    pub gallery: Vec<ImageRecord>,
}

/// Splits `set`: `test_fraction` of its identities (rounded, at least one) are held out.
pub fn plan(set: &ImageSet, seed: u64, test_fraction: f64) -> Plan {
    let mut by_id: BTreeMap<i32, Vec<&ImageRecord>> = BTreeMap::new();
    for r in &set.items {
        by_id.entry(r.pid).or_default().push(r);
    }
    let mut ids: Vec<i32> = by_id.keys().copied().collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    ids.shuffle(&mut rng);
    let n_test = ((ids.len() as f64 * test_fraction).round() as usize).clamp(1, ids.len());
    let mut plan = Plan::default();
    for (k, pid) in ids.iter().enumerate() {
        let images = &by_id[pid];
        if k >= n_test {
            plan.train.extend(images.iter().map(|r| (*r).clone()));
            continue;
        }
        let mut by_cam: BTreeMap<Option<u32>, Vec<&ImageRecord>> = BTreeMap::new();
        for r in images {
            by_cam.entry(r.camid).or_default().push(r);
        }
        let matchable = if set.has_cameras() {
            by_cam.len() >= 2
        } else {
            images.len() >= 2
        };
        // A camera gives a query only if it keeps a gallery image, so every camera stays in
        // the gallery; with one image per camera, the first camera gives the one query.
        let all_single = by_cam.values().all(|g| g.len() < 2);
        for (c, group) in by_cam.values().enumerate() {
            let pick = (matchable && (group.len() >= 2 || (all_single && c == 0)))
                .then(|| rng.random_range(0..group.len()));
            for (i, r) in group.iter().enumerate() {
                let side = if Some(i) == pick {
                    &mut plan.query
                } else {
                    &mut plan.gallery
                };
                side.push((*r).clone());
            }
        }
    }
    for side in [&mut plan.train, &mut plan.query, &mut plan.gallery] {
        side.sort_by(|a, b| a.path.cmp(&b.path));
    }
    plan
}

/// Writes `plan` below `out` as `train/`, `query/` and `gallery/` in the folders layout; the
/// files keep their paths below `root` (the split set's folder).
pub fn write(plan: &Plan, root: &Path, out: &Path) -> Result<(), DataError> {
    for (name, side) in [
        ("train", &plan.train),
        ("query", &plan.query),
        ("gallery", &plan.gallery),
    ] {
        for r in side {
            let rel = r.path.strip_prefix(root).unwrap_or(&r.path);
            copy_file(&r.path, &out.join(name).join(rel))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reid_config::DatasetLayout;
    use std::path::PathBuf;

    fn set(cams_per_id: &[&[u32]]) -> ImageSet {
        let items = cams_per_id
            .iter()
            .enumerate()
            .flat_map(|(pid, cams)| {
                cams.iter().enumerate().map(move |(i, &c)| ImageRecord {
                    path: PathBuf::from(format!("{pid}/{i}.jpg")),
                    pid: pid as i32,
                    camid: Some(c),
                })
            })
            .collect();
        ImageSet {
            root: PathBuf::new(),
            layout: DatasetLayout::Folders,
            detected: false,
            items,
            junk: 0,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn every_query_keeps_a_match_from_another_camera() {
        let s = set(&[
            &[1, 2],
            &[1, 1, 2],
            &[3, 3, 3],
            &[1, 2, 2, 3],
            &[5],
            &[1, 2, 1, 2],
        ]);
        for seed in 0..20 {
            let p = plan(&s, seed, 1.0);
            assert!(p.train.is_empty());
            for q in &p.query {
                assert!(
                    p.gallery
                        .iter()
                        .any(|g| g.pid == q.pid && g.camid != q.camid),
                    "seed {seed}: {q:?}"
                );
            }
            // Identities 2 (one camera) and 4 (one image) are gallery-only distractors.
            assert!(p.query.iter().all(|q| q.pid != 2 && q.pid != 4));
            assert_eq!(p.query.len() + p.gallery.len(), s.items.len());
        }
    }

    #[test]
    fn the_split_is_by_identity_and_seeded() {
        let s = set(&[&[1u32, 2][..]; 10]);
        let p = plan(&s, 7, 0.3);
        let test: std::collections::BTreeSet<i32> = p.gallery.iter().map(|r| r.pid).collect();
        assert_eq!(test.len(), 3);
        assert!(p.train.iter().all(|r| !test.contains(&r.pid)));
        let again = plan(&s, 7, 0.3);
        assert_eq!(p.query, again.query);
        assert_ne!(p.query, plan(&s, 8, 0.3).query);
    }
}
