//! What can stop detection, embedding or person search; each variant names its file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error(transparent)]
    Model(#[from] reid_modeling::ModelError),
    #[error(transparent)]
    Engine(#[from] reid_engine::EngineError),
    #[error(transparent)]
    Data(#[from] reid_data::DataError),
    #[error(transparent)]
    Plot(#[from] reid_evaluation::plots::PlotError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no images", .0.display())]
    NoFrames(PathBuf),
    #[error("video {}: decoding stopped at frame {frame}: {message}", path.display())]
    Video {
        path: PathBuf,
        frame: usize,
        message: String,
    },
    #[error("{program}: {message}")]
    Tool { program: String, message: String },
}
