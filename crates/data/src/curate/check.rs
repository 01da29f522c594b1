//! What makes a ReID split wrong or misleading, found before anyone trains on it: images that
//! do not decode or are too small to be a person crop, names the layout cannot read, identities
//! in both the training and the test sets, queries whose person the gallery never shows (under
//! the camera rule evaluation applies), and byte-identical images in different splits.

use crate::dataset::{ImageRecord, ImageSet, Skipped};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

/// Crops narrower or lower than this (pixels) are reported as tiny.
pub const MIN_SIDE: u32 = 16;

/// A split to check: its name (`train`, `query`, `gallery`) and its images.
pub struct Split<'a> {
    pub name: &'a str,
    pub set: &'a ImageSet,
}

/// Everything found, each list naming the files.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    pub unreadable: Vec<Skipped>,
    /// Images with a side below [`MIN_SIDE`]: path, width, height.
    pub tiny: Vec<(PathBuf, u32, u32)>,
    pub bad_names: Vec<Skipped>,
    /// Person ids of a training set that are also in the query or gallery.
    pub shared_identities: Vec<i32>,
    /// Queries with no gallery image of their person (from another camera, where cameras are
    /// known on both sides).
    pub queries_without_match: Vec<PathBuf>,
    /// Pairs of byte-identical files in different splits.
    pub duplicates: Vec<(PathBuf, PathBuf)>,
}

impl Findings {
    /// How many problems were found.
    pub fn count(&self) -> usize {
        self.unreadable.len()
            + self.tiny.len()
            + self.bad_names.len()
            + self.shared_identities.len()
            + self.queries_without_match.len()
            + self.duplicates.len()
    }
}

/// Checks `splits` (decoding every image on the global thread pool).
pub fn check(splits: &[Split]) -> Findings {
    let mut f = Findings::default();
    let all: Vec<(&str, &ImageRecord)> = splits
        .iter()
        .flat_map(|s| s.set.items.iter().map(move |r| (s.name, r)))
        .collect();
    for s in splits {
        f.bad_names.extend(s.set.skipped.iter().cloned());
    }
    let decoded: Vec<_> = all
        .par_iter()
        .map(|(_, r)| {
            let bytes = std::fs::read(&r.path);
            let hash = bytes.as_ref().ok().map(|b| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                b.hash(&mut h);
                h.finish()
            });
            let size = bytes
                .map_err(|e| e.to_string())
                .and_then(|b| image::load_from_memory(&b).map_err(|e| e.to_string()))
                .map(|img| (img.width(), img.height()));
            (hash, size)
        })
        .collect();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, ((_, r), (hash, size))) in all.iter().zip(&decoded).enumerate() {
        match size {
            Err(reason) => f.unreadable.push(Skipped {
                path: r.path.clone(),
                reason: reason.clone(),
            }),
            Ok((w, h)) if *w < MIN_SIDE || *h < MIN_SIDE => f.tiny.push((r.path.clone(), *w, *h)),
            Ok(_) => {}
        }
        if let Some(h) = hash {
            by_hash.entry(*h).or_default().push(i);
        }
    }
    for group in by_hash.values().filter(|g| g.len() > 1) {
        for (a, &i) in group.iter().enumerate() {
            for &j in &group[a + 1..] {
                let ((si, ri), (sj, rj)) = (all[i], all[j]);
                if si != sj && std::fs::read(&ri.path).ok() == std::fs::read(&rj.path).ok() {
                    f.duplicates.push((ri.path.clone(), rj.path.clone()));
                }
            }
        }
    }
    let ids = |name: &str| -> BTreeSet<i32> {
        splits
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| {
                s.set
                    .items
                    .iter()
                    .filter(|r| !s.set.is_distractor(r))
                    .map(|r| r.pid)
            })
            .collect()
    };
    let test: BTreeSet<i32> = ids("query").union(&ids("gallery")).copied().collect();
    f.shared_identities = ids("train").intersection(&test).copied().collect();
    let side = |name: &str| splits.iter().find(|s| s.name == name).map(|s| s.set);
    if let (Some(query), Some(gallery)) = (side("query"), side("gallery")) {
        let cameras = query.has_cameras() && gallery.has_cameras();
        f.queries_without_match = query
            .items
            .iter()
            .filter(|q| {
                !gallery
                    .items
                    .iter()
                    .any(|g| g.pid == q.pid && g.path != q.path && (!cameras || g.camid != q.camid))
            })
            .map(|q| q.path.clone())
            .collect();
    }
    f
}
