//! The gallery: enrolled embeddings with their metadata, searched by distance. [`local`] is the
//! embedded persistent store (an append-only, checksummed log replayed into memory), [`milvus`]
//! the same gallery on a Milvus server; this file holds what every store shares: the
//! [`Gallery`] interface, items, filters, hits, errors and the checks of what comes in.

mod ivf;
pub mod local;
mod log;
pub mod milvus;

use reid_data::l2_normalize;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use local::{LocalStore, SearchParams};
pub use milvus::MilvusStore;

/// What the service needs of a gallery. Embeddings are L2-normalised on the way in and
/// distances are Euclidean between unit vectors (as `reid evaluate` ranks).
pub trait Gallery: Send + Sync {
    /// Where the gallery lives, for logs and `/v1/stats`.
    fn location(&self) -> String;
    /// Items enrolled.
    fn count(&self) -> Result<usize, StoreError>;
    /// Dimension of the enrolled embeddings, once fixed.
    fn dim(&self) -> Option<usize>;
    /// Fixes the embedding size to the model's ([`StoreError::ModelDim`] when the gallery holds
    /// another).
    fn expect_dim(&mut self, dim: usize) -> Result<(), StoreError>;
    /// Enrols `items` (all or none); returns their new ids in order.
    fn insert(&mut self, items: Vec<NewItem>) -> Result<Vec<u64>, StoreError>;
    /// Removes `id`; `false` when there was no such item.
    fn delete(&mut self, id: u64) -> Result<bool, StoreError>;
    fn get(&self, id: u64) -> Result<Option<Entry>, StoreError>;
    /// The crop enrolled with `id`, when one was kept.
    fn image(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// The normalised embeddings of those of `ids` that exist, in order (re-ranking candidates).
    fn vectors_of(&self, ids: &[u64]) -> Result<Vec<f32>, StoreError>;
    /// The `k` items nearest to `query` that pass `filter`, nearest first.
    fn search(&self, query: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>, StoreError>;
}

/// Opens the gallery at `location`: `milvus://HOST:PORT[/COLLECTION]` or a folder.
pub fn open(location: &str) -> Result<Box<dyn Gallery>, StoreError> {
    Ok(match location.strip_prefix("milvus://") {
        Some(address) => Box::new(MilvusStore::connect(address)?),
        None => Box::new(LocalStore::open(Path::new(location))?),
    })
}

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("gallery store {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gallery store {} is damaged at byte {offset}: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        message: String,
    },
    #[error("gallery {url}: {message}")]
    Milvus { url: String, message: String },
    #[error("the gallery holds {store}-d embeddings but the model makes {model}-d ones")]
    ModelDim { store: usize, model: usize },
    #[error("embedding has {got} values, the gallery holds {expected}-d embeddings")]
    Dim { expected: usize, got: usize },
    #[error("embedding {index} holds NaN or infinite values")]
    NonFinite { index: usize },
    #[error("embedding {index} is empty or all zeros")]
    Empty { index: usize },
}

/// Checks the embeddings of `items` against the gallery's dimension (the first item's when
/// none is fixed yet); returns that dimension and the embeddings L2-normalised.
pub(crate) fn unit_embeddings(
    items: &[NewItem],
    dim: Option<usize>,
) -> Result<(Option<usize>, Vec<Vec<f32>>), StoreError> {
    let mut dim = dim;
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let expected = *dim.get_or_insert(item.embedding.len());
        if item.embedding.len() != expected {
            return Err(StoreError::Dim {
                expected,
                got: item.embedding.len(),
            });
        }
        if item.embedding.iter().any(|v| !v.is_finite()) {
            return Err(StoreError::NonFinite { index });
        }
        if item.embedding.iter().all(|&v| v == 0.0) {
            return Err(StoreError::Empty { index });
        }
        let mut v = item.embedding.clone();
        l2_normalize(&mut v);
        out.push(v);
    }
    Ok((dim, out))
}

/// A query checked against the gallery's dimension and normalised; `None` for a gallery that
/// holds nothing yet.
pub(crate) fn unit_query(
    query: &[f32],
    dim: Option<usize>,
) -> Result<Option<Vec<f32>>, StoreError> {
    let Some(dim) = dim else {
        return Ok(None);
    };
    if query.len() != dim {
        return Err(StoreError::Dim {
            expected: dim,
            got: query.len(),
        });
    }
    if query.iter().any(|v| !v.is_finite()) {
        return Err(StoreError::NonFinite { index: 0 });
    }
    let mut q = query.to_vec();
    l2_normalize(&mut q);
    Ok(Some(q))
}

/// What is known of an enrolled person crop besides its embedding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// Seconds (any epoch the user picks; UNIX time by convention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, serde_json::Value>,
}

/// One item to enrol: its L2-normalised embedding, metadata and, optionally, the crop itself
/// (kept so that pages can show it).
#[derive(Debug, Clone)]
pub struct NewItem {
    pub embedding: Vec<f32>,
    pub meta: Meta,
    pub image: Option<Vec<u8>>,
}

/// Which gallery items a search may return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub camera: Option<String>,
    pub since: Option<f64>,
    pub until: Option<f64>,
}

impl Filter {
    pub fn accepts(&self, meta: &Meta) -> bool {
        let camera_ok = self
            .camera
            .as_ref()
            .is_none_or(|c| meta.camera.as_ref() == Some(c));
        let time_ok = match (self.since, self.until) {
            (None, None) => true,
            (since, until) => meta
                .timestamp
                .is_some_and(|t| since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)),
        };
        camera_ok && time_ok
    }
}

/// A search result: the item, its Euclidean distance to the query (both L2-normalised, as
/// `reid evaluate` ranks) and its metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: u64,
    pub distance: f32,
    #[serde(flatten)]
    pub meta: Meta,
}

/// An enrolled item as `GET /v1/gallery/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: u64,
    #[serde(flatten)]
    pub meta: Meta,
    pub has_image: bool,
    pub embedding: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(camera: &str, t: Option<f64>) -> Meta {
        Meta {
            camera: Some(camera.to_owned()),
            timestamp: t,
            ..Meta::default()
        }
    }

    #[test]
    fn filters_match_camera_and_closed_time_range() {
        let f = Filter {
            camera: Some("c1".into()),
            since: Some(10.0),
            until: Some(20.0),
        };
        assert!(f.accepts(&meta("c1", Some(10.0))));
        assert!(f.accepts(&meta("c1", Some(20.0))));
        assert!(!f.accepts(&meta("c1", Some(20.5))));
        assert!(!f.accepts(&meta("c2", Some(15.0))));
        assert!(!f.accepts(&meta("c1", None)), "no timestamp, no time match");
        assert!(Filter::default().accepts(&meta("c9", None)));
    }
}
