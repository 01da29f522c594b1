//! Errors of dataset reading (layouts, list files), image decoding and embeddings files; each names the path at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("dataset directory {} does not exist", .0.display())]
    MissingDir(PathBuf),
    #[error("{} is not a directory", .0.display())]
    NotADir(PathBuf),
    #[error("dataset directory {} holds no usable images ({detail})", dir.display())]
    Empty { dir: PathBuf, detail: String },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot decode image {}: {message}", path.display())]
    Decode { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Layout { path: PathBuf, message: String },
    #[error("{}, line {line}: {message}", path.display())]
    List {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("embeddings file {}: {message}", path.display())]
    Embeddings { path: PathBuf, message: String },
}
