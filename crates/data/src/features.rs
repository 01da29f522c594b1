//! Feature matrices (one embedding per row) and the embeddings JSON file that `reid inference`
//! writes and `reid evaluate evaluate.features=…` reads:
//! `[{"img_path": …, "embedding": […], "set": "query"|"test"}, …]` (`set` optional, as in the
//! files TAO's inference writes).

use crate::error::DataError;
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// Row-major `rows × dim` matrix of f32 embeddings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Features {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Features {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            data: Vec::new(),
        }
    }

    pub fn from_rows(dim: usize, data: Vec<f32>) -> Self {
        assert!(
            dim > 0 && data.len().is_multiple_of(dim),
            "data is not rows × dim"
        );
        Self { dim, data }
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.dim)
    }

    /// Scales every row to unit L2 norm ([`l2_normalize`]).
    pub fn l2_normalize(&mut self) {
        self.data.chunks_exact_mut(self.dim).for_each(l2_normalize);
    }

    /// Index of the first row holding a NaN or infinity, if any.
    pub fn first_non_finite_row(&self) -> Option<usize> {
        self.rows().position(|r| r.iter().any(|x| !x.is_finite()))
    }
}

/// Scales `v` to unit L2 norm, the one normalisation of every embedding reid compares. The
/// values are divided by the largest |value| first, so neither huge (1e30) nor tiny (1e-30)
/// components overflow or vanish in the squares; all-zero or non-finite vectors are left as
/// they are.
pub fn l2_normalize(v: &mut [f32]) {
    let scale = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return;
    }
    let norm = v.iter().map(|x| (x / scale).powi(2)).sum::<f32>().sqrt() * scale;
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Which side of the evaluation an embedding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetName {
    Query = 0,
    Test = 1,
}

impl SetName {
    /// The side a path's folders name: `query`, or `bounding_box_test` / `test` / `gallery`
    /// (the innermost such folder wins).
    pub fn from_path(path: &Path) -> Option<Self> {
        path.parent()?
            .components()
            .rev()
            .filter_map(|c| c.as_os_str().to_str())
            .find_map(|name| match name.to_ascii_lowercase().as_str() {
                "query" => Some(Self::Query),
                "bounding_box_test" | "test" | "gallery" => Some(Self::Test),
                _ => None,
            })
    }
}

/// One entry of an embeddings JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRecord {
    pub img_path: String,
    pub embedding: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<SetName>,
}

/// Writes `records` as a JSON array, streaming (no second copy of the floats).
pub fn write_embeddings(path: &Path, records: &[EmbeddingRecord]) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer(&mut w, records).map_err(|e| DataError::Embeddings {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    w.flush().map_err(io)
}

/// Reads an embeddings JSON file and checks that every embedding has the same length and only
/// finite values.
pub fn read_embeddings(path: &Path) -> Result<Vec<EmbeddingRecord>, DataError> {
    let bad = |message: String| DataError::Embeddings {
        path: path.to_owned(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let records: Vec<EmbeddingRecord> =
        serde_json::from_reader(BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let dim = records.first().map(|r| r.embedding.len()).unwrap_or(0);
    if dim == 0 {
        return Err(bad("no embeddings in the file".into()));
    }
    for r in &records {
        if r.embedding.len() != dim {
            return Err(bad(format!(
                "{} has {} values, the first entry has {dim}",
                r.img_path,
                r.embedding.len()
            )));
        }
        if r.embedding.iter().any(|x| !x.is_finite()) {
            return Err(bad(format!("{} has NaN or infinite values", r.img_path)));
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_huge_and_tiny_vectors_without_overflow() {
        for x in [1e30f32, 1e-30, 3.0] {
            let mut v = vec![x, 0.0, -x];
            l2_normalize(&mut v);
            let h = std::f32::consts::FRAC_1_SQRT_2;
            assert!(
                (v[0] - h).abs() < 1e-6 && (v[2] + h).abs() < 1e-6,
                "{x}: {v:?}"
            );
        }
        let mut zeros = vec![0.0; 3];
        l2_normalize(&mut zeros);
        assert_eq!(zeros, [0.0; 3]);
    }

    #[test]
    fn normalises_rows() {
        let mut f = Features::from_rows(2, vec![3.0, 4.0, 0.0, 0.0]);
        f.l2_normalize();
        assert_eq!(f.data, vec![0.6, 0.8, 0.0, 0.0]);
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn sides_follow_the_innermost_named_folder() {
        let side = |p: &str| SetName::from_path(Path::new(p));
        assert_eq!(side("data/query/0001_c1s1_0.jpg"), Some(SetName::Query));
        assert_eq!(side("x/bounding_box_test/0001_c1.jpg"), Some(SetName::Test));
        assert_eq!(side("test/run/Gallery/a.jpg"), Some(SetName::Test));
        assert_eq!(side("test/query/a.jpg"), Some(SetName::Query));
        assert_eq!(side("bounding_box_train/a.jpg"), None);
        assert_eq!(side("query.jpg"), None);
    }

    #[test]
    fn embeddings_round_trip_and_reject_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/emb.json");
        let recs = vec![
            EmbeddingRecord {
                img_path: "a/0001_c1s1_000001_00.jpg".into(),
                embedding: vec![0.5, -1.25],
                set: Some(SetName::Query),
            },
            EmbeddingRecord {
                img_path: "b/0001_c2s1_000001_00.jpg".into(),
                embedding: vec![1.0, 2.0],
                set: None,
            },
        ];
        write_embeddings(&path, &recs).unwrap();
        assert_eq!(read_embeddings(&path).unwrap(), recs);

        std::fs::write(
            &path,
            r#"[{"img_path":"x","embedding":[1.0]},{"img_path":"y","embedding":[1.0,2.0]}]"#,
        )
        .unwrap();
        let err = read_embeddings(&path).unwrap_err().to_string();
        assert!(err.contains("y has 2 values"), "{err}");
        std::fs::write(&path, "{").unwrap();
        assert!(
            read_embeddings(&path)
                .unwrap_err()
                .to_string()
                .contains("emb.json")
        );
    }
}
