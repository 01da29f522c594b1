//! Market-1501 layout: images named `PPPP_cCsS_FFFFFF_NN.jpg` (person id, camera, sequence,
//! frame, box). pid −1 is junk and dropped; pid 0 is a distractor and kept. Directories are read
//! recursively in sorted order; names that do not parse are reported and skipped.

use crate::error::DataError;
use std::path::{Path, PathBuf};

/// Extensions read as images (case-insensitive).
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "gif"];

/// One labelled crop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub path: PathBuf,
    /// Person id; 0 marks a distractor.
    pub pid: i32,
    /// Camera id as written in the name (`c3` → 3).
    pub camid: u32,
}

/// A file that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The labelled images of one directory (query, gallery or train).
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub root: PathBuf,
    pub items: Vec<ImageRecord>,
    /// Images with pid −1 (Market's junk), dropped by protocol.
    pub junk: usize,
    /// Image files whose names do not follow the Market-1501 pattern.
    pub skipped: Vec<Skipped>,
}

impl ImageSet {
    /// Reads every image below `dir` (recursively) whose name parses as Market-1501.
    pub fn read_market(dir: &Path) -> Result<ImageSet, DataError> {
        let files = list_images(dir)?;
        let mut set = ImageSet {
            root: dir.to_owned(),
            items: Vec::with_capacity(files.len()),
            junk: 0,
            skipped: Vec::new(),
        };
        for path in files {
            match parse_market_name(&path) {
                Ok((-1, _)) => set.junk += 1,
                Ok((pid, camid)) => set.items.push(ImageRecord { path, pid, camid }),
                Err(reason) => set.skipped.push(Skipped { path, reason }),
            }
        }
        if set.items.is_empty() {
            return Err(DataError::Empty {
                dir: dir.to_owned(),
                detail: format!(
                    "{} junk, {} with names not in Market-1501 form{}",
                    set.junk,
                    set.skipped.len(),
                    summarize(&set.skipped)
                ),
            });
        }
        Ok(set)
    }
}

/// `"; e.g. …"` listing the first three entries of `skipped`, or an empty string.
pub fn summarize(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let examples: Vec<String> = skipped
        .iter()
        .take(3)
        .map(|s| format!("{} ({})", s.path.display(), s.reason))
        .collect();
    format!("; e.g. {}", examples.join(", "))
}

/// Image files below `dir`, recursively, sorted by path.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    if !dir.exists() {
        return Err(DataError::MissingDir(dir.to_owned()));
    }
    if !dir.is_dir() {
        return Err(DataError::NotADir(dir.to_owned()));
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| DataError::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| DataError::Io {
                    path: d.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if is_image_file(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// `(pid, camid)` from a Market-1501 file name such as `0002_c1s1_000451_03.jpg`.
pub fn parse_market_name(path: &Path) -> Result<(i32, u32), String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| "file name is not UTF-8".to_owned())?;
    let mut parts = stem.split('_');
    let pid_part = parts.next().unwrap_or_default();
    let pid: i32 = pid_part
        .parse()
        .map_err(|_| format!("`{pid_part}` is not a person id"))?;
    if pid < -1 {
        return Err(format!("person id {pid} is below -1"));
    }
    let cam_part = parts.next().unwrap_or_default();
    let digits: String = cam_part
        .strip_prefix('c')
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let camid = digits
        .parse()
        .map_err(|_| format!("`{cam_part}` does not start with c<camera>"))?;
    Ok((pid, camid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_market_names() {
        assert_eq!(
            parse_market_name(Path::new("0002_c1s1_000451_03.jpg")),
            Ok((2, 1))
        );
        assert_eq!(
            parse_market_name(Path::new("-1_c3s2_000001_01.jpg")),
            Ok((-1, 3))
        );
        assert_eq!(
            parse_market_name(Path::new("0000_c6s4_002452_02.png")),
            Ok((0, 6))
        );
        assert_eq!(parse_market_name(Path::new("1001_c12.jpg")), Ok((1001, 12)));
        assert!(parse_market_name(Path::new("person.jpg")).is_err());
        assert!(parse_market_name(Path::new("0001_x1s1.jpg")).is_err());
        assert!(parse_market_name(Path::new("-7_c1s1.jpg")).is_err());
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
        let set = ImageSet::read_market(dir.path()).unwrap();
        let got: Vec<(i32, u32)> = set.items.iter().map(|r| (r.pid, r.camid)).collect();
        assert_eq!(got, vec![(0, 1), (1, 1), (1, 2)]);
        assert_eq!(set.junk, 1);
        assert_eq!(set.skipped.len(), 1);
        assert!(summarize(&set.skipped).contains("holiday.jpg"));
    }

    #[test]
    fn missing_and_empty_dirs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = ImageSet::read_market(&missing).unwrap_err().to_string();
        assert!(
            err.contains("does not exist") && err.contains("nope"),
            "{err}"
        );
        let err = ImageSet::read_market(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no usable images"), "{err}");
    }
}
