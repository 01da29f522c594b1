//! Identities, images and cameras of a split, and how many images each identity has.

use crate::dataset::ImageSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The figures of one split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitStats {
    pub split: String,
    pub path: PathBuf,
    pub layout: String,
    pub images: usize,
    pub identities: usize,
    /// Distinct cameras; `None` when images have no camera ids.
    pub cameras: Option<usize>,
    /// Images per identity → how many identities have that many.
    pub images_per_identity: BTreeMap<usize, usize>,
    pub junk: usize,
    pub skipped: usize,
}

impl SplitStats {
    pub fn of(split: &str, set: &ImageSet) -> Self {
        let mut per_id: BTreeMap<i32, usize> = BTreeMap::new();
        for r in &set.items {
            *per_id.entry(r.pid).or_default() += 1;
        }
        let mut histogram = BTreeMap::new();
        for n in per_id.values() {
            *histogram.entry(*n).or_default() += 1;
        }
        Self {
            split: split.to_owned(),
            path: set.root.clone(),
            layout: set.layout.to_string(),
            images: set.items.len(),
            identities: per_id.len(),
            cameras: set.has_cameras().then(|| set.num_cameras()),
            images_per_identity: histogram,
            junk: set.junk,
            skipped: set.skipped.len(),
        }
    }
}
