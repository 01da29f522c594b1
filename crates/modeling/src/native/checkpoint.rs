//! Native checkpoint files: the magic `REIDCKPT`, a little-endian u32 format version and u64
//! header length, a JSON header ([`CheckpointHeader`]: network config, epoch), then the weights
//! as Burn burnpack bytes. Written to a temporary file and renamed, so an interrupted write never
//! leaves a checkpoint that cannot be loaded.

use super::net::{NetConfig, ReidNet};
use crate::error::ModelError;
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"REIDCKPT";
const VERSION: u32 = 1;

/// What a checkpoint says about its network, besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    pub net: NetConfig,
    /// Training epochs completed (0: not trained by reid).
    pub epoch: u32,
}

/// Writes `model` with `header` to `path` atomically.
pub fn save(path: &Path, header: &CheckpointHeader, model: &ReidNet) -> Result<(), ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| fail(format!("cannot serialise the weights: {e}")))?;
    let weights = store.get_bytes().map_err(|e| fail(e.to_string()))?;
    let json = serde_json::to_vec(header).map_err(|e| fail(e.to_string()))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(e.to_string()))?;
    let write = |f: &mut std::fs::File| -> std::io::Result<()> {
        f.write_all(MAGIC)?;
        f.write_all(&VERSION.to_le_bytes())?;
        f.write_all(&(json.len() as u64).to_le_bytes())?;
        f.write_all(&json)?;
        f.write_all(&weights)?;
        f.sync_all()
    };
    write(tmp.as_file_mut()).map_err(|e| fail(e.to_string()))?;
    tmp.persist(path).map_err(|e| fail(e.error.to_string()))?;
    Ok(())
}

/// Reads the header of the checkpoint at `path`, and its weights into a network on `device`.
pub fn load(path: &Path, device: &Device) -> Result<(CheckpointHeader, ReidNet), ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    if !path.is_file() {
        return Err(ModelError::MissingFile(path.to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let (header, weights) = split(&bytes).map_err(fail)?;
    let mut net = ReidNet::new(&header.net, device);
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(weights.to_vec())));
    let applied = net
        .load_from(&mut store)
        .map_err(|e| fail(format!("weights do not fit the network in the header: {e}")))?;
    if !applied.unused.is_empty() {
        return Err(fail(format!(
            "{} tensors do not belong to the network, e.g. {}",
            applied.unused.len(),
            applied.unused[0]
        )));
    }
    Ok((header, net))
}

/// Header and weight bytes of a checkpoint file's contents.
fn split(bytes: &[u8]) -> Result<(CheckpointHeader, &[u8]), String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a reid checkpoint (bad magic)")?;
    let version = u32::from_le_bytes(
        rest.get(..4)
            .ok_or("truncated")?
            .try_into()
            .expect("4 bytes"),
    );
    if version != VERSION {
        return Err(format!(
            "checkpoint format {version} is not supported (this reid reads {VERSION})"
        ));
    }
    let len = u64::from_le_bytes(
        rest.get(4..12)
            .ok_or("truncated")?
            .try_into()
            .expect("8 bytes"),
    );
    let body = &rest[12..];
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= body.len())
        .ok_or("truncated header")?;
    let header = serde_json::from_slice(&body[..len]).map_err(|e| format!("bad header: {e}"))?;
    Ok((header, &body[len..]))
}
