//! Labelled image sets in the layouts users have (`dataset.layout`): Market-1501 and
//! DukeMTMC-reID file names (`names`), MSMT17 list files (`msmt17`), a folder per identity
//! (`folders`) and CSV files (`csv`). Each layout is one module producing the same
//! [`ImageSet`]; an unset layout is detected from the path (`detect`) and always reported.
//! pid −1 is junk and dropped; in the Market and Duke layouts pid 0 marks a distractor, kept in
//! galleries and never trained on.

mod csv;
mod detect;
mod folders;
mod listing;
mod msmt17;
mod names;

use crate::error::DataError;
pub use detect::detect;
pub use listing::{list_images, summarize};
pub use names::parse_market_name;
use reid_config::{DataSource, DatasetLayout};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One labelled crop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub path: PathBuf,
    /// Person id.
    pub pid: i32,
    /// Camera id, where the layout records one (`c3` → 3).
    pub camid: Option<u32>,
}

/// A file or list entry that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The labelled images of one set (query, gallery or train).
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// The folder or list file the set was read from.
    pub root: PathBuf,
    pub layout: DatasetLayout,
    /// Whether `layout` was detected rather than set.
    pub detected: bool,
    pub items: Vec<ImageRecord>,
    /// Entries with pid −1 (junk), dropped by protocol.
    pub junk: usize,
    /// Image files whose names the layout cannot read (file-name layouts only).
    pub skipped: Vec<Skipped>,
}

impl ImageSet {
    /// Reads `source` in its layout, detecting the layout when the source leaves it unset.
    pub fn read(source: &DataSource) -> Result<ImageSet, DataError> {
        let (layout, detected) = match source.layout {
            Some(layout) => (layout, false),
            None => (detect(&source.path)?, true),
        };
        let mut set = Self::read_as(&source.path, layout)?;
        set.detected = detected;
        Ok(set)
    }

    /// Reads `path` in `layout`; an empty result is an error naming the path.
    pub fn read_as(path: &Path, layout: DatasetLayout) -> Result<ImageSet, DataError> {
        let mut set = ImageSet {
            root: path.to_owned(),
            layout,
            detected: false,
            items: Vec::new(),
            junk: 0,
            skipped: Vec::new(),
        };
        let entries = match layout {
            DatasetLayout::Market | DatasetLayout::Duke => names::read(path, &mut set.skipped)?,
            DatasetLayout::Msmt17 => msmt17::read(path)?,
            DatasetLayout::Folders => folders::read(path)?,
            DatasetLayout::Csv => csv::read(path)?,
        };
        for record in entries {
            if record.pid == -1 {
                set.junk += 1;
            } else {
                set.items.push(record);
            }
        }
        if set.items.is_empty() {
            return Err(DataError::Empty {
                dir: path.to_owned(),
                detail: format!(
                    "{layout} layout: {} junk, {} unreadable names{}",
                    set.junk,
                    set.skipped.len(),
                    summarize(&set.skipped)
                ),
            });
        }
        Ok(set)
    }

    /// Whether `record` is a distractor: pid 0 in the Market and Duke layouts.
    pub fn is_distractor(&self, record: &ImageRecord) -> bool {
        record.pid == 0 && matches!(self.layout, DatasetLayout::Market | DatasetLayout::Duke)
    }

    /// Distinct person ids.
    pub fn num_ids(&self) -> usize {
        self.items
            .iter()
            .map(|r| r.pid)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Distinct camera ids (0 when the set records none).
    pub fn num_cameras(&self) -> usize {
        self.items
            .iter()
            .filter_map(|r| r.camid)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Whether every image has a camera id.
    pub fn has_cameras(&self) -> bool {
        self.items.iter().all(|r| r.camid.is_some())
    }

    /// One line for the log: layout (and whether detected), images, ids, cameras, skipped.
    pub fn describe(&self) -> String {
        let cameras = if self.has_cameras() {
            format!("{} cameras", self.num_cameras())
        } else {
            "no camera ids".to_owned()
        };
        let mut line = format!(
            "{}: {} layout{}, {} images, {} ids, {cameras}",
            self.root.display(),
            self.layout,
            if self.detected { " (detected)" } else { "" },
            self.items.len(),
            self.num_ids(),
        );
        if self.junk > 0 {
            line += &format!(", {} junk dropped", self.junk);
        }
        if !self.skipped.is_empty() {
            line += &format!(
                ", {} files skipped (names not in {} form{})",
                self.skipped.len(),
                self.layout,
                summarize(&self.skipped)
            );
        }
        line
    }
}

/// The image files of `source` whatever their names (for embedding without labels): a folder's
/// images, or the entries of a list file.
pub fn image_paths(source: &DataSource) -> Result<Vec<PathBuf>, DataError> {
    let path = &source.path;
    let is_list = matches!(
        source.layout,
        Some(DatasetLayout::Csv | DatasetLayout::Msmt17)
    ) || path.is_file();
    if is_list {
        return Ok(ImageSet::read(source)?
            .items
            .into_iter()
            .map(|r| r.path)
            .collect());
    }
    let files = list_images(path)?;
    if files.is_empty() {
        return Err(DataError::Empty {
            dir: path.clone(),
            detail: "no image files".into(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(dir: &Path) -> Result<ImageSet, DataError> {
        ImageSet::read_as(dir, DatasetLayout::Market)
    }

    #[test]
    fn reads_nested_dirs_drops_junk_keeps_distractors_reports_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("cam2");
        std::fs::create_dir(&sub).unwrap();
        for name in [
            "0001_c1s1_000001_00.jpg",
            "0000_c1s1_000002_00.jpg",
            "-1_c1s1_000003_00.jpg",
            "holiday.jpg",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(sub.join("0001_c2s1_000004_00.PNG"), b"x").unwrap();
        let set = market(dir.path()).unwrap();
        let got: Vec<(i32, Option<u32>)> = set.items.iter().map(|r| (r.pid, r.camid)).collect();
        assert_eq!(got, vec![(0, Some(1)), (1, Some(1)), (1, Some(2))]);
        assert_eq!(set.junk, 1);
        assert_eq!(set.skipped.len(), 1);
        assert!(set.is_distractor(&set.items[0]));
        assert!(set.describe().contains("holiday.jpg"), "{}", set.describe());
        assert_eq!((set.num_ids(), set.num_cameras()), (2, 2));
    }

    #[test]
    fn missing_and_empty_dirs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = market(&missing).unwrap_err().to_string();
        assert!(
            err.contains("does not exist") && err.contains("nope"),
            "{err}"
        );
        let err = market(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no usable images"), "{err}");
    }
}
