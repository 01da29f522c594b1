//! The embedded store: a folder holding `gallery.log` (see [`super::log`]), replayed into memory
//! on opening — embeddings in one contiguous matrix, metadata beside them. Small galleries are
//! searched exactly (GEMM over all rows); from [`SearchParams::ivf_min`] items on, an
//! [`Ivf`] index proposes candidates that are re-scored exactly.

use super::ivf::Ivf;
use super::log::{self, Log, Record};
use super::{Entry, Filter, Gallery, Hit, Meta, NewItem, StoreError, unit_embeddings, unit_query};
use rayon::prelude::*;
use reid_evaluation::distance::dot_rows;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File name of the log inside the store folder.
pub const LOG_FILE: &str = "gallery.log";

/// Rows per parallel search task.
const SEARCH_CHUNK: usize = 16_384;

/// How searches run: when the approximate index is used and how hard it looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Galleries with fewer items are searched exactly.
    pub ivf_min: usize,
    /// Share of the index's lists a query scans.
    pub probe_fraction: f64,
    /// Candidates re-scored exactly per requested result (at least 256 in all).
    pub rescore_factor: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            ivf_min: 50_000,
            probe_fraction: 1.0 / 16.0,
            rescore_factor: 4,
        }
    }
}

pub struct LocalStore {
    dir: PathBuf,
    log: Log,
    mem: Rows,
    params: SearchParams,
    ivf: Option<Ivf>,
    /// An index being built in the background while `ivf` (when there is one) serves.
    rebuild: Option<Rebuild>,
}

/// A background index build over a snapshot of the gallery, and what changed since.
struct Rebuild {
    handle: std::thread::JoinHandle<Ivf>,
    added: Vec<u64>,
    deleted: Vec<u64>,
}

impl LocalStore {
    /// Opens the store in `dir`, creating it when absent, with the default [`SearchParams`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, SearchParams::default())
    }

    /// Opens the store in `dir`, creating it when absent.
    pub fn open_with(dir: &Path, params: SearchParams) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(LOG_FILE);
        let mut mem = Rows::default();
        let log = Log::open(&path, |record| mem.apply(record))?;
        let mut store = Self {
            dir: dir.to_owned(),
            log,
            mem,
            params,
            ivf: None,
            rebuild: None,
        };
        store.refresh_index();
        store.wait_for_index();
        Ok(store)
    }

    /// Changes how searches run (building or dropping the index when `ivf_min` says so).
    pub fn set_search_params(&mut self, params: SearchParams) {
        let rebuild = params.ivf_min != self.params.ivf_min;
        self.params = params;
        if rebuild {
            self.ivf = None;
            self.rebuild = None;
            self.refresh_index();
            self.wait_for_index();
        }
    }

    /// Starts building the index once the gallery is large enough, and rebuilding it each time
    /// the gallery has doubled since (so its lists stay balanced); installs a finished build.
    /// Builds run on their own thread over a snapshot, so enrolments never wait for one: until
    /// it is done, searches use the previous index (kept up to date) or scan exactly.
    fn refresh_index(&mut self) {
        let n = self.len();
        let (Some(dim), true) = (self.mem.dim, n >= self.params.ivf_min) else {
            self.ivf = None;
            self.rebuild = None;
            return;
        };
        if self
            .rebuild
            .as_ref()
            .is_some_and(|r| r.handle.is_finished())
        {
            self.install_index();
        }
        if self.rebuild.is_some() || self.ivf.as_ref().is_some_and(|ivf| n < 2 * ivf.trained_for) {
            return;
        }
        let (ids, vectors) = (self.mem.ids.clone(), self.mem.vectors.clone());
        let handle = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let nlist = ((n as f64).sqrt() as usize).max(1);
            let ivf = Ivf::build(&ids, &vectors, dim, nlist);
            tracing::info!(
                "gallery index: {n} items in {nlist} lists, built in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ivf
        });
        self.rebuild = Some(Rebuild {
            handle,
            added: Vec::new(),
            deleted: Vec::new(),
        });
    }

    /// Waits for a background index build, if one runs, and installs it.
    pub fn wait_for_index(&mut self) {
        if self.rebuild.is_some() {
            self.install_index();
        }
    }

    /// Joins the build and brings its index up to date with the changes made meanwhile.
    fn install_index(&mut self) {
        let Some(rebuild) = self.rebuild.take() else {
            return;
        };
        let mut ivf = rebuild
            .handle
            .join()
            .expect("the index build does not panic");
        for id in &rebuild.deleted {
            ivf.remove(*id);
        }
        for id in rebuild.added {
            if let Some(&row) = self.mem.rows.get(&id) {
                ivf.add(&[id], self.mem.vector(row));
            }
        }
        self.ivf = Some(ivf);
    }

    pub fn len(&self) -> usize {
        self.mem.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mem.ids.is_empty()
    }

    /// [`LocalStore::search`] by scoring every item (ties in storage order).
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, StoreError> {
        Ok(match unit_query(query, self.mem.dim)? {
            Some(q) => self.scan(&q, k, filter),
            None => Vec::new(),
        })
    }

    /// Scores every row (GEMM, chunks in parallel).
    fn scan(&self, q: &[f32], k: usize, filter: &Filter) -> Vec<Hit> {
        let mem = &self.mem;
        let dim = q.len();
        let chunk = |start: usize, rows: &[f32]| -> Vec<(f32, usize)> {
            let mut best = TopK::new(k);
            for (i, dot) in dot_rows(q, rows, dim).into_iter().enumerate() {
                let row = start + i;
                if filter.accepts(&mem.metas[row]) {
                    best.offer(unit_distance(dot), row);
                }
            }
            best.into_sorted()
        };
        let mut best = TopK::new(k);
        mem.vectors
            .par_chunks(SEARCH_CHUNK * dim)
            .enumerate()
            .flat_map_iter(|(c, rows)| chunk(c * SEARCH_CHUNK, rows))
            .collect::<Vec<_>>()
            .into_iter()
            .for_each(|(d, row)| best.offer(d, row));
        self.hits(best)
    }

    fn hits(&self, best: TopK) -> Vec<Hit> {
        best.into_sorted()
            .into_iter()
            .map(|(distance, row)| Hit {
                id: self.mem.ids[row],
                distance,
                meta: self.mem.metas[row].clone(),
            })
            .collect()
    }
}

impl Gallery for LocalStore {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn count(&self) -> Result<usize, StoreError> {
        Ok(self.len())
    }

    /// Dimension of the enrolled embeddings (fixed by the first enrolment).
    fn dim(&self) -> Option<usize> {
        self.mem.dim
    }

    fn expect_dim(&mut self, dim: usize) -> Result<(), StoreError> {
        match self.mem.dim {
            Some(store) if store != dim => Err(StoreError::ModelDim { store, model: dim }),
            _ => {
                self.mem.dim = Some(dim);
                Ok(())
            }
        }
    }

    /// Enrols `items` (all or none), durably; returns their new ids in order.
    fn insert(&mut self, items: Vec<NewItem>) -> Result<Vec<u64>, StoreError> {
        let (dim, normalized) = unit_embeddings(&items, self.mem.dim)?;
        let mut bytes = Vec::new();
        let mut image_offsets = Vec::with_capacity(items.len());
        let first = self.mem.next_id;
        let ids: Vec<u64> = (first..first + items.len() as u64).collect();
        for ((item, v), &id) in items.iter().zip(&normalized).zip(&ids) {
            let meta_json = serde_json::to_vec(&item.meta).expect("metadata serialises");
            let image = item.image.as_deref().unwrap_or_default();
            let (frame, image_at) = log::encode_add(id, v, &meta_json, image);
            let offset = self.log.end() + bytes.len() as u64 + image_at as u64;
            image_offsets.push((!image.is_empty()).then_some((offset, image.len() as u32)));
            bytes.extend_from_slice(&frame);
        }
        self.log.append(&bytes)?;
        self.mem.dim = dim;
        if let Some(ivf) = &mut self.ivf {
            ivf.add(&ids, &normalized.concat());
        }
        if let Some(rebuild) = &mut self.rebuild {
            rebuild.added.extend(&ids);
        }
        for ((item, v), (&id, image)) in items
            .into_iter()
            .zip(normalized)
            .zip(ids.iter().zip(image_offsets))
        {
            self.mem.push(id, &v, item.meta, image);
        }
        self.refresh_index();
        Ok(ids)
    }

    /// Removes `id`, durably; `false` when there was no such item.
    fn delete(&mut self, id: u64) -> Result<bool, StoreError> {
        if !self.mem.rows.contains_key(&id) {
            return Ok(false);
        }
        self.log.append(&log::encode_delete(id))?;
        self.mem.remove(id);
        if let Some(ivf) = &mut self.ivf {
            ivf.remove(id);
        }
        if let Some(rebuild) = &mut self.rebuild {
            rebuild.deleted.push(id);
        }
        self.refresh_index();
        Ok(true)
    }

    fn get(&self, id: u64) -> Result<Option<Entry>, StoreError> {
        Ok(self.mem.rows.get(&id).map(|&row| Entry {
            id,
            meta: self.mem.metas[row].clone(),
            has_image: self.mem.images[row].is_some(),
            embedding: self.mem.vector(row).to_vec(),
        }))
    }

    /// The crop enrolled with `id`, when one was.
    fn image(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self.mem.rows.get(&id).and_then(|&row| self.mem.images[row]) {
            Some((offset, len)) => self.log.read_at(offset, len).map(Some),
            None => Ok(None),
        }
    }

    /// The normalised embeddings of `ids` (in order), for re-ranking candidates.
    fn vectors_of(&self, ids: &[u64]) -> Result<Vec<f32>, StoreError> {
        Ok(ids
            .iter()
            .filter_map(|id| self.mem.rows.get(id))
            .flat_map(|&row| self.mem.vector(row).iter().copied())
            .collect())
    }

    /// The `k` items nearest to `query` (normalised here) that pass `filter`, nearest first:
    /// from the index's candidates when the gallery has one (falling back to the exact scan
    /// when a filter leaves fewer than `k` of them), else exact.
    fn search(&self, query: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>, StoreError> {
        let Some(q) = unit_query(query, self.mem.dim)? else {
            return Ok(Vec::new());
        };
        if let Some(ivf) = &self.ivf {
            let mem = &self.mem;
            let nprobe = (ivf.nlist() as f64 * self.params.probe_fraction).ceil() as usize;
            let wanted = (k * self.params.rescore_factor).max(256);
            let mut best = TopK::new(k);
            for id in ivf.candidates(&q, nprobe, wanted) {
                let row = mem.rows[&id];
                if filter.accepts(&mem.metas[row]) {
                    let dot: f32 = q.iter().zip(mem.vector(row)).map(|(a, b)| a * b).sum();
                    best.offer(unit_distance(dot), row);
                }
            }
            if best.len() == k || *filter == Filter::default() {
                return Ok(self.hits(best));
            }
        }
        Ok(self.scan(&q, k, filter))
    }
}

/// Euclidean distance of two unit vectors from their dot product.
fn unit_distance(dot: f32) -> f32 {
    (2.0 - 2.0 * dot).max(0.0).sqrt()
}

/// The store's contents in memory, rebuilt from the log on opening.
#[derive(Default)]
struct Rows {
    dim: Option<usize>,
    ids: Vec<u64>,
    /// `ids.len() × dim`, row-major, L2-normalised.
    vectors: Vec<f32>,
    metas: Vec<Meta>,
    /// Where each item's crop is in the log: `(offset, length)`.
    images: Vec<Option<(u64, u32)>>,
    rows: HashMap<u64, usize>,
    next_id: u64,
}

impl Rows {
    fn vector(&self, row: usize) -> &[f32] {
        let dim = self.dim.unwrap_or(0);
        &self.vectors[row * dim..(row + 1) * dim]
    }

    fn push(&mut self, id: u64, v: &[f32], meta: Meta, image: Option<(u64, u32)>) {
        self.rows.insert(id, self.ids.len());
        self.ids.push(id);
        self.vectors.extend_from_slice(v);
        self.metas.push(meta);
        self.images.push(image);
        self.next_id = self.next_id.max(id + 1);
    }

    /// Removes the row of `id` by moving the last row into its place.
    fn remove(&mut self, id: u64) {
        let Some(row) = self.rows.remove(&id) else {
            return;
        };
        let dim = self.dim.unwrap_or(0);
        let last = self.ids.len() - 1;
        if row != last {
            self.vectors
                .copy_within(last * dim..(last + 1) * dim, row * dim);
            self.rows.insert(self.ids[last], row);
        }
        self.vectors.truncate(last * dim);
        self.ids.swap_remove(row);
        self.metas.swap_remove(row);
        self.images.swap_remove(row);
    }

    /// Replays one log record.
    fn apply(&mut self, record: Record) -> Result<(), String> {
        match record {
            Record::Add {
                id,
                embedding,
                meta_json,
                image,
            } => {
                let dim = *self.dim.get_or_insert(embedding.len());
                if embedding.len() != dim {
                    return Err(format!(
                        "item {id} has {} values, not {dim}",
                        embedding.len()
                    ));
                }
                if self.rows.contains_key(&id) {
                    return Err(format!("item {id} enrolled twice"));
                }
                let meta = serde_json::from_slice(&meta_json)
                    .map_err(|e| format!("item {id} metadata: {e}"))?;
                self.push(id, &embedding, meta, image);
            }
            Record::Delete { id } => self.remove(id),
        }
        Ok(())
    }
}

/// The `k` smallest `(distance, row)` pairs seen, ties broken by row.
struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<Scored>,
}

#[derive(PartialEq)]
struct Scored(f32, usize);

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, distance: f32, row: usize) {
        let s = Scored(distance, row);
        if self.heap.len() < self.k {
            self.heap.push(s);
        } else if self.heap.peek().is_some_and(|worst| s < *worst) {
            self.heap.pop();
            self.heap.push(s);
        }
    }

    fn len(&self) -> usize {
        self.heap.len()
    }

    fn into_sorted(self) -> Vec<(f32, usize)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Scored(d, r)| (d, r))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn item(v: &[f32], camera: &str, image: Option<&[u8]>) -> NewItem {
        NewItem {
            embedding: v.to_vec(),
            meta: Meta {
                person_id: Some(format!("p{}", v[0])),
                camera: Some(camera.to_owned()),
                ..Meta::default()
            },
            image: image.map(<[u8]>::to_vec),
        }
    }

    fn filled(dir: &Path) -> (LocalStore, Vec<u64>) {
        let mut s = LocalStore::open(dir).unwrap();
        let ids = s
            .insert(vec![
                item(&[1.0, 0.0, 0.0], "c1", Some(b"jpeg-bytes-1")),
                item(&[0.0, 2.0, 0.0], "c2", None),
                item(&[3.0, 3.0, 0.0], "c1", Some(b"img3")),
            ])
            .unwrap();
        (s, ids)
    }

    #[test]
    fn search_ranks_by_normalised_euclidean_distance_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let (s, ids) = filled(dir.path());
        let hits = s.search(&[10.0, 0.1, 0.0], 3, &Filter::default()).unwrap();
        let order: Vec<u64> = hits.iter().map(|h| h.id).collect();
        assert_eq!(order, vec![ids[0], ids[2], ids[1]]);
        // [1,0,0]·normalise([10,.1,0]) ≈ 0.99995 → distance √(2 − 2·dot).
        let q = 10.0 / (100.01f32).sqrt();
        assert!((hits[0].distance - (2.0 - 2.0 * q).sqrt()).abs() < 1e-3);
        let c2 = Filter {
            camera: Some("c2".into()),
            ..Filter::default()
        };
        let only: Vec<u64> = s
            .search(&[1.0, 0.0, 0.0], 5, &c2)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(only, vec![ids[1]]);
        assert!(matches!(
            s.search(&[1.0, 0.0], 1, &Filter::default()),
            Err(StoreError::Dim {
                expected: 3,
                got: 2
            })
        ));
    }

    #[test]
    fn bad_embeddings_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = filled(dir.path());
        let bad = vec![
            item(&[1.0, 1.0, 1.0], "c1", None),
            item(&[f32::NAN, 0.0, 0.0], "c1", None),
        ];
        assert!(matches!(
            s.insert(bad),
            Err(StoreError::NonFinite { index: 1 })
        ));
        assert!(matches!(
            s.insert(vec![item(&[1.0, 2.0], "c", None)]),
            Err(StoreError::Dim { .. })
        ));
        assert!(matches!(
            s.insert(vec![item(&[0.0, 0.0, 0.0], "c", None)]),
            Err(StoreError::Empty { index: 0 })
        ));
        assert_eq!(s.len(), 3);
        drop(s);
        assert_eq!(LocalStore::open(dir.path()).unwrap().len(), 3);
    }

    #[test]
    fn reopening_restores_items_images_and_deletions() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, ids) = filled(dir.path());
        assert!(s.delete(ids[0]).unwrap());
        assert!(!s.delete(ids[0]).unwrap());
        let before = s.search(&[1.0, 1.0, 0.0], 3, &Filter::default()).unwrap();
        drop(s);
        let mut s = LocalStore::open(dir.path()).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.get(ids[0]).unwrap().is_none());
        assert_eq!(s.image(ids[2]).unwrap().as_deref(), Some(&b"img3"[..]));
        assert_eq!(s.image(ids[1]).unwrap(), None);
        assert_eq!(
            s.get(ids[1]).unwrap().unwrap().meta.camera.as_deref(),
            Some("c2")
        );
        assert_eq!(
            s.search(&[1.0, 1.0, 0.0], 3, &Filter::default()).unwrap(),
            before
        );
        // Ids are never reused, even for a deleted last item.
        let new = s.insert(vec![item(&[0.0, 0.0, 1.0], "c3", None)]).unwrap();
        assert_eq!(new, vec![ids[2] + 1]);
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_damage_inside_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = filled(dir.path());
        drop(s);
        let path = dir.path().join(LOG_FILE);
        let good = std::fs::read(&path).unwrap();
        // A crash mid-append: half a frame at the end.
        let (frame, _) = log::encode_add(99, &[1.0, 0.0, 0.0], b"{}", b"");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&frame[..frame.len() / 2]).unwrap();
        drop(f);
        let s = LocalStore::open(dir.path()).unwrap();
        assert_eq!(s.len(), 3);
        drop(s);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "the torn tail is truncated"
        );
        // A flipped byte in the first record, with records after it: refuse, keep the file.
        let mut bad = good.clone();
        bad[8 + 8 + 20] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let err = LocalStore::open(dir.path())
            .err()
            .expect("damage is an error");
        assert!(err.to_string().contains("damaged at byte 8"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bad);
        std::fs::write(&path, b"something else").unwrap();
        assert!(
            LocalStore::open(dir.path())
                .err()
                .unwrap()
                .to_string()
                .contains("bad magic")
        );
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn unit(dim: usize, rng: &mut StdRng) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|_| rng.random::<f32>() - 0.5).collect();
        reid_data::l2_normalize(&mut v);
        v
    }

    /// `n` points around the unit `centers` (like embeddings of as many people).
    fn clustered(n: usize, centers: &[Vec<f32>], rng: &mut StdRng) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| {
                let center = &centers[rng.random_range(0..centers.len())];
                let noise = unit(center.len(), rng);
                center
                    .iter()
                    .zip(&noise)
                    .map(|(a, b)| a + 0.5 * b)
                    .collect()
            })
            .collect()
    }

    fn exact_ids(s: &LocalStore, q: &[f32], k: usize) -> Vec<u64> {
        let hits = s.search_exact(q, k, &Filter::default()).unwrap();
        hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn the_index_finds_what_an_exact_scan_finds_and_follows_inserts_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let centers: Vec<Vec<f32>> = (0..100).map(|_| unit(32, &mut rng)).collect();
        let params = SearchParams {
            ivf_min: 2_000,
            ..SearchParams::default()
        };
        let mut s = LocalStore::open_with(dir.path(), params).unwrap();
        let items = |vs: Vec<Vec<f32>>, camera: &str| {
            vs.into_iter()
                .map(|embedding| NewItem {
                    embedding,
                    meta: Meta {
                        camera: Some(camera.into()),
                        ..Meta::default()
                    },
                    image: None,
                })
                .collect::<Vec<_>>()
        };
        let ids = s
            .insert(items(clustered(3_000, &centers, &mut rng), "a"))
            .unwrap();
        assert!(
            s.ivf.is_none(),
            "the first index is built in the background"
        );
        s.wait_for_index();
        assert!(s.ivf.is_some(), "an index past ivf_min");
        // Added after the index was built, then partly deleted.
        let late = s
            .insert(items(clustered(500, &centers, &mut rng), "b"))
            .unwrap();
        for id in ids.iter().step_by(3) {
            assert!(s.delete(*id).unwrap());
        }
        let (mut found, mut total) = (0, 0);
        for q in clustered(50, &centers, &mut rng) {
            let approx: Vec<u64> = s
                .search(&q, 20, &Filter::default())
                .unwrap()
                .iter()
                .map(|h| h.id)
                .collect();
            assert!(
                approx.iter().all(|id| s.get(*id).unwrap().is_some()),
                "no deleted item"
            );
            let exact = exact_ids(&s, &q, 20);
            found += approx.iter().filter(|id| exact.contains(id)).count();
            total += exact.len();
        }
        let recall = found as f64 / total as f64;
        assert!(recall >= 0.95, "recall@20 {recall}");
        // A narrow filter falls back to the exact scan: all of camera b that exists.
        let only_b = Filter {
            camera: Some("b".into()),
            ..Filter::default()
        };
        let hits = s.search(&[1.0; 32], 500, &only_b).unwrap();
        assert_eq!(hits.len(), late.len());

        // Past twice the size it was trained for, the index is rebuilt in the background;
        // enrolments and deletions made meanwhile reach the new index.
        let trained_for = s.ivf.as_ref().unwrap().trained_for;
        let more = s
            .insert(items(clustered(4_000, &centers, &mut rng), "c"))
            .unwrap();
        assert!(s.rebuild.is_some(), "a rebuild runs");
        for id in more.iter().step_by(2).chain(&late) {
            assert!(s.delete(*id).unwrap());
        }
        let last = s
            .insert(items(clustered(100, &centers, &mut rng), "d"))
            .unwrap();
        s.wait_for_index();
        let ivf = s.ivf.as_ref().unwrap();
        assert!(ivf.trained_for > trained_for);
        assert_eq!(ivf.len(), s.len(), "the new index holds every item, once");
        assert_eq!(s.len(), 2_500 + 2_000 - 500 + 100);
        let nearest = s.search(
            &s.get(last[0]).unwrap().unwrap().embedding,
            1,
            &Filter::default(),
        );
        assert_eq!(nearest.unwrap()[0].id, last[0]);

        // Reopening builds the index over the same items.
        let n = s.len();
        drop(s);
        let s = LocalStore::open_with(dir.path(), params).unwrap();
        assert_eq!(s.ivf.as_ref().map(Ivf::len), Some(n));
    }
}
