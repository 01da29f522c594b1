//! Any layout to a Market-1501 folder (`bounding_box_train/`, `query/`, `bounding_box_test/`,
//! names `PPPP_cCs1_NNNNNN_00.jpg`) that TAO, fast-reid and torchreid read, plus
//! `mapping.csv` (`source,target,pid,camid`) to trace every file back. Person ids are kept;
//! images without a camera id get camera 1 in the training and query folders and camera 2 in
//! the gallery, so the Market rule (same person and camera excluded) keeps every query's
//! matches. JPEG files are copied as they are, other formats re-encoded as JPEG.

use super::copy_file;
use crate::dataset::ImageSet;
use crate::error::DataError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The Market-1501 folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketSplit {
    Train,
    Query,
    Gallery,
}

impl MarketSplit {
    pub fn folder(self) -> &'static str {
        match self {
            Self::Train => "bounding_box_train",
            Self::Query => "query",
            Self::Gallery => "bounding_box_test",
        }
    }

    fn default_camera(self) -> u32 {
        match self {
            Self::Gallery => 2,
            Self::Train | Self::Query => 1,
        }
    }
}

/// Files written per split, and the mapping file.
#[derive(Debug)]
pub struct Converted {
    pub written: Vec<(MarketSplit, usize)>,
    pub mapping: PathBuf,
    /// Images that had no camera id.
    pub without_camera: usize,
}

/// Writes `sets` below `out` in the Market-1501 layout.
pub fn to_market(sets: &[(MarketSplit, &ImageSet)], out: &Path) -> Result<Converted, DataError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DataError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mapping = out.join("mapping.csv");
    let mut csv = String::from("source,target,pid,camid\n");
    let mut converted = Converted {
        written: Vec::new(),
        mapping: mapping.clone(),
        without_camera: 0,
    };
    for &(split, set) in sets {
        let dir = out.join(split.folder());
        for (i, r) in set.items.iter().enumerate() {
            let camid = r.camid.unwrap_or_else(|| {
                converted.without_camera += 1;
                split.default_camera()
            });
            let target = dir.join(format!("{:04}_c{camid}s1_{i:06}_00.jpg", r.pid));
            let is_jpeg = r
                .path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
            if is_jpeg {
                copy_file(&r.path, &target)?;
            } else {
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                let img = image::open(&r.path).map_err(|e| DataError::Decode {
                    path: r.path.clone(),
                    message: e.to_string(),
                })?;
                img.to_rgb8()
                    .save_with_format(&target, image::ImageFormat::Jpeg)
                    .map_err(|e| DataError::Decode {
                        path: target.clone(),
                        message: e.to_string(),
                    })?;
            }
            let cam = r.camid.map_or(String::new(), |c| c.to_string());
            csv += &format!(
                "{},{},{},{cam}\n",
                csv_field(&r.path),
                csv_field(&target),
                r.pid
            );
        }
        converted.written.push((split, set.items.len()));
    }
    std::fs::File::create(&mapping)
        .and_then(|mut f| f.write_all(csv.as_bytes()))
        .map_err(io(&mapping))?;
    Ok(converted)
}

/// A path as one CSV field (quoted when it holds a comma or quote).
fn csv_field(path: &Path) -> String {
    let s = path.display().to_string();
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
