//! MSMT17 list files (`list_train.txt`, `list_val.txt`, `list_query.txt`, `list_gallery.txt`):
//! one `path pid` line per image. Paths are relative to the list's folder or, as MSMT17 ships
//! them, to its `train/` or `test/` folder (chosen by where the first entry exists). The camera
//! is the third `_` field of the name (`0000_000_01_0303morning_0015_0.jpg` → 1), when numeric.

use super::ImageRecord;
use crate::error::DataError;
use std::path::{Path, PathBuf};

/// A list-file line that cannot be used.
fn bad_line(list: &Path, line: usize, message: String) -> DataError {
    DataError::List {
        path: list.to_owned(),
        line,
        message,
    }
}

pub(super) fn read(list: &Path) -> Result<Vec<ImageRecord>, DataError> {
    let text = std::fs::read_to_string(list).map_err(|source| DataError::Io {
        path: list.to_owned(),
        source,
    })?;
    let folder = list.parent().unwrap_or(Path::new("")).to_owned();
    let mut base: Option<PathBuf> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let mut fields = line.split_whitespace();
        let (Some(rel), Some(pid)) = (fields.next(), fields.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(bad_line(list, n, format!("`{line}` is not `path pid`")));
        };
        let pid: i32 = pid
            .parse()
            .map_err(|_| bad_line(list, n, format!("person id `{pid}` is not a number")))?;
        if pid < -1 {
            return Err(bad_line(list, n, format!("person id {pid} is below -1")));
        }
        let base = base.get_or_insert_with(|| {
            ["", "train", "test"]
                .iter()
                .map(|sub| folder.join(sub))
                .find(|b| b.join(rel).is_file())
                .unwrap_or_else(|| folder.clone())
        });
        let path = base.join(rel);
        if !path.is_file() {
            return Err(bad_line(
                list,
                n,
                format!("image {} does not exist", path.display()),
            ));
        }
        out.push(ImageRecord {
            camid: camera(&path),
            path,
            pid,
        });
    }
    Ok(out)
}

fn camera(path: &Path) -> Option<u32> {
    let stem = path.file_stem()?.to_str()?;
    stem.split('_').nth(2)?.parse().ok()
}
