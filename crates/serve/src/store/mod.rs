//! The gallery: enrolled embeddings with their metadata, searched by distance. [`local`] is the
//! embedded persistent store (an append-only, checksummed log replayed into memory); this file
//! holds what every store shares: items, filters and hits.

mod ivf;
pub mod local;
mod log;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use local::{LocalStore, SearchParams};

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

/// Scales `v` to unit length (left as is when it is all zeros).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
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
