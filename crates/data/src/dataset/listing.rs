//! Finding image files below a folder, and summarising skipped files for messages.

use super::Skipped;
use crate::error::DataError;
use std::path::{Path, PathBuf};

/// Extensions read as images (case-insensitive).
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "gif"];

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

/// Checks that `dir` is an existing folder.
pub(super) fn check_dir(dir: &Path) -> Result<(), DataError> {
    if !dir.exists() {
        return Err(DataError::MissingDir(dir.to_owned()));
    }
    if !dir.is_dir() {
        return Err(DataError::NotADir(dir.to_owned()));
    }
    Ok(())
}

/// The entries of one folder, sorted by path.
pub(super) fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut out = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()).map_err(io))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(out)
}

/// Image files below `dir`, recursively, sorted by path.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    check_dir(dir)?;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for path in read_dir_sorted(&d)? {
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

pub(super) fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
