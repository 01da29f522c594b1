//! Telling a dataset path's layout when `dataset.layout` is unset: a `.csv` file is `csv`, a
//! `.txt` file an MSMT17 list; a folder holding only numerically named folders is `folders`; a
//! folder whose image names are mostly `<pid>_c<camera>…` is `market` (with Market's
//! `c<camera>s<sequence>`) or `duke`. Anything else is an error asking for `dataset.layout`.

use super::listing::{check_dir, is_image_file, list_images, read_dir_sorted};
use super::names::{has_sequence, parse_market_name};
use crate::error::DataError;
use reid_config::DatasetLayout;
use std::path::Path;

pub fn detect(path: &Path) -> Result<DatasetLayout, DataError> {
    if path.is_file() {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        return match ext.to_ascii_lowercase().as_str() {
            "csv" => Ok(DatasetLayout::Csv),
            "txt" => Ok(DatasetLayout::Msmt17),
            _ => Err(undetected(
                path,
                "a file that is neither a .csv nor an MSMT17 .txt list",
            )),
        };
    }
    check_dir(path)?;
    let entries = read_dir_sorted(path)?;
    let loose_images = entries.iter().filter(|p| is_image_file(p)).count();
    let (id_dirs, other_dirs): (Vec<_>, Vec<_>) =
        entries.iter().filter(|p| p.is_dir()).partition(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.parse::<i32>().is_ok())
        });
    if !id_dirs.is_empty() && loose_images > 0 {
        return Err(DataError::Layout {
            path: path.to_owned(),
            message: format!(
                "mixed layouts: {loose_images} images beside {} identity folders",
                id_dirs.len()
            ),
        });
    }
    if !id_dirs.is_empty() && other_dirs.is_empty() {
        return Ok(DatasetLayout::Folders);
    }
    let images = list_images(path)?;
    let named: Vec<_> = images
        .iter()
        .filter(|p| parse_market_name(p).is_ok())
        .collect();
    if named.is_empty() || named.len() * 2 < images.len() {
        return Err(undetected(
            path,
            &format!(
                "a folder where {} of {} image names read as <pid>_c<camera>…",
                named.len(),
                images.len()
            ),
        ));
    }
    Ok(if named.iter().any(|p| has_sequence(p)) {
        DatasetLayout::Market
    } else {
        DatasetLayout::Duke
    })
}

fn undetected(path: &Path, what: &str) -> DataError {
    DataError::Layout {
        path: path.to_owned(),
        message: format!(
            "cannot tell the dataset layout of {what}; set dataset.layout to one of \
             market, duke, msmt17, folders, csv"
        ),
    }
}
