//! Native checkpoint files: the magic `REIDCKPT`, a little-endian u32 format version and u64
//! header length, a JSON header ([`CheckpointHeader`]: network config, epoch, the lengths of the
//! extra sections), the weights as Burn burnpack bytes, then named extra sections (training
//! state: optimiser, center-loss centers). Written through [`crate::sealed::write`] (atomically;
//! sealed with the user's key when one is given), so an interrupted write never leaves a
//! checkpoint that cannot be loaded.

use super::net::{NetConfig, ReidNet};
use crate::error::ModelError;
use crate::sealed::{self, ModelKey};
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const MAGIC: &[u8; 8] = b"REIDCKPT";
const VERSION: u32 = 2;

/// What a checkpoint says about its network, besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    pub net: NetConfig,
    /// Training epochs completed (0: not trained by reid).
    pub epoch: u32,
}

/// Named byte sections stored after the weights.
pub type Sections = BTreeMap<String, Vec<u8>>;

/// The on-disk header: the public one plus the extra sections' names and lengths, in order.
#[derive(Serialize, Deserialize)]
struct FileHeader {
    #[serde(flatten)]
    header: CheckpointHeader,
    weights_len: u64,
    sections: Vec<(String, u64)>,
}

/// Writes `model` with `header` and `sections` to `path` atomically (sealed with `key` when
/// one is given).
pub fn save(
    path: &Path,
    header: &CheckpointHeader,
    model: &ReidNet,
    sections: &Sections,
    key: Option<&ModelKey>,
) -> Result<(), ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    let weights = module_to_bytes(model).map_err(fail)?;
    let file_header = FileHeader {
        header: header.clone(),
        weights_len: weights.len() as u64,
        sections: sections
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect(),
    };
    let json = serde_json::to_vec(&file_header).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::with_capacity(
        20 + json.len() + weights.len() + sections.values().map(Vec::len).sum::<usize>(),
    );
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&weights);
    for section in sections.values() {
        bytes.extend_from_slice(section);
    }
    sealed::write(path, &bytes, key).map_err(|e| fail(e.to_string()))
}

/// Whether the file at `path` starts like a reid checkpoint.
pub fn is_checkpoint(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == MAGIC)
}

/// Reads the header of the checkpoint at `path` (opened with `key` when sealed), its weights
/// into a network on `device`, and its extra sections.
pub fn load(
    path: &Path,
    device: &Device,
    key: Option<&ModelKey>,
) -> Result<(CheckpointHeader, ReidNet, Sections), ModelError> {
    let fail = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    let bytes = sealed::read(path, key)?;
    let (header, weights, sections) = split(&bytes).map_err(fail)?;
    let net = module_from_bytes(ReidNet::new(&header.net, device), weights)
        .map_err(|e| fail(format!("weights do not fit the network in the header: {e}")))?;
    Ok((header, net, sections))
}

/// A module's tensors (with their parameter ids, which optimiser state is keyed by) as
/// burnpack bytes.
pub fn module_to_bytes<M: Module>(module: &M) -> Result<Vec<u8>, String> {
    let mut store = BurnpackStore::from_bytes(None);
    module
        .save_into(&mut store)
        .map_err(|e| format!("cannot serialise the weights: {e}"))?;
    Ok(store.get_bytes().map_err(|e| e.to_string())?.to_vec())
}

/// Loads burnpack `bytes` into `module`; every tensor must fit and belong to it.
pub fn module_from_bytes<M: Module>(mut module: M, bytes: &[u8]) -> Result<M, String> {
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())));
    let applied = module.load_from(&mut store).map_err(|e| e.to_string())?;
    if let Some(first) = applied.unused.first() {
        return Err(format!(
            "{} tensors do not belong to the network, e.g. {first}",
            applied.unused.len()
        ));
    }
    Ok(module)
}

/// Header, weight bytes and sections of a checkpoint file's contents.
fn split(bytes: &[u8]) -> Result<(CheckpointHeader, &[u8], Sections), String> {
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
    let file: FileHeader =
        serde_json::from_slice(&body[..len]).map_err(|e| format!("bad header: {e}"))?;
    let mut rest = &body[len..];
    let mut take = |n: u64| -> Result<&[u8], String> {
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= rest.len())
            .ok_or("truncated")?;
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let weights = take(file.weights_len)?;
    let mut sections = Sections::new();
    for (name, n) in &file.sections {
        sections.insert(name.clone(), take(*n)?.to_vec());
    }
    Ok((file.header, weights, sections))
}
