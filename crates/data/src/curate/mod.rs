//! Looking after a dataset before training on it (`reid dataset`): per-split statistics
//! (`stats`), problems a ReID split must not have (`check`), conversion of any layout to a
//! Market-1501 folder that other tools read (`convert`), and splitting a folder-per-identity set
//! into train / query / gallery by identity (`split`).

pub mod check;
pub mod convert;
pub mod split;
pub mod stats;

use crate::error::DataError;
use std::path::Path;

/// Copies `from` to `to`, creating `to`'s folder.
fn copy_file(from: &Path, to: &Path) -> Result<(), DataError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|source| DataError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::copy(from, to).map_err(|source| DataError::Io {
        path: from.to_owned(),
        source,
    })?;
    Ok(())
}
