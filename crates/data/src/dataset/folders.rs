//! A folder per identity: `DIR/<pid>/<images>`, or with a folder per camera inside,
//! `DIR/<pid>/<camera>/<images>` (camera folders named by a number, optionally after letters:
//! `3`, `c3`, `cam3`). Identity folders are named by a number; anything else is an error naming
//! the folder, as are images outside identity folders and an identity mixing loose images with
//! camera folders.

use super::ImageRecord;
use super::listing::{check_dir, is_image_file, read_dir_sorted};
use crate::error::DataError;
use std::path::Path;

fn layout_error(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Layout {
        path: path.to_owned(),
        message: message.into(),
    }
}

pub(super) fn read(dir: &Path) -> Result<Vec<ImageRecord>, DataError> {
    check_dir(dir)?;
    let mut out = Vec::new();
    for id_dir in read_dir_sorted(dir)? {
        if !id_dir.is_dir() {
            if is_image_file(&id_dir) {
                return Err(layout_error(
                    &id_dir,
                    "an image outside the identity folders of the folders layout",
                ));
            }
            continue;
        }
        let name = file_name(&id_dir);
        let pid: i32 = name.parse().map_err(|_| {
            layout_error(
                &id_dir,
                format!("identity folder `{name}` is not a numeric person id"),
            )
        })?;
        let entries = read_dir_sorted(&id_dir)?;
        let (cams, images): (Vec<_>, Vec<_>) = entries.into_iter().partition(|p| p.is_dir());
        let images: Vec<_> = images.into_iter().filter(|p| is_image_file(p)).collect();
        if !cams.is_empty() && !images.is_empty() {
            return Err(layout_error(
                &id_dir,
                "mixes images with camera folders; use one or the other",
            ));
        }
        out.extend(images.into_iter().map(|path| ImageRecord {
            path,
            pid,
            camid: None,
        }));
        for cam_dir in cams {
            let camid = camera_id(&cam_dir)?;
            for path in read_dir_sorted(&cam_dir)? {
                if is_image_file(&path) {
                    out.push(ImageRecord {
                        path,
                        pid,
                        camid: Some(camid),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `3`, `c3` or `cam3` → 3.
fn camera_id(dir: &Path) -> Result<u32, DataError> {
    let name = file_name(dir);
    name.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .map_err(|_| {
            layout_error(
                dir,
                format!("camera folder `{name}` is not a camera number (e.g. `3`, `c3`, `cam3`)"),
            )
        })
}
