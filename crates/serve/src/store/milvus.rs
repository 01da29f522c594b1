//! The gallery on a Milvus server (2.3 or later), through its RESTful API (`/v1/vector/…` on
//! the proxy port, 19530 by default), for galleries that outgrow one machine. One collection
//! holds the gallery: Milvus's `id` (auto-assigned int64) and `vector` (L2 metric over the
//! normalised embeddings, so its squared distances give ours), and the metadata as dynamic
//! fields `person_id`, `camera`, `timestamp`, `tags`, plus `image_b64` for crops small enough
//! for a dynamic field. Milvus reads with bounded staleness (its default consistency): an
//! enrolment shows in searches after Milvus's time tick (well under a second), and deletions are
//! hidden from searches, counts and lookups here at once.

use super::{Entry, Filter, Gallery, Hit, Meta, NewItem, StoreError, unit_embeddings, unit_query};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// Collection used when the address names none.
pub const DEFAULT_COLLECTION: &str = "reid_gallery";

/// Largest crop kept with an item: its base64 and the other metadata must fit Milvus's 64 KiB
/// dynamic-field limit. Larger crops are enrolled without their image.
const MAX_IMAGE_BYTES: usize = 40 * 1024;

/// How long a deletion is hidden here: longer than Milvus's bounded staleness (5 s default).
const DELETE_WINDOW: Duration = Duration::from_secs(60);

/// How long to wait for a new collection to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Milvus's error code for a missing collection.
const COLLECTION_NOT_FOUND: i64 = 100;

/// Metadata fields read back with search results and lookups.
const META_FIELDS: [&str; 4] = ["person_id", "camera", "timestamp", "tags"];

pub struct MilvusStore {
    agent: ureq::Agent,
    /// `http://HOST:PORT/v1/vector`.
    base: String,
    /// `milvus://HOST:PORT/COLLECTION`, for messages.
    url: String,
    collection: String,
    dim: Option<usize>,
    /// Recently deleted ids and when.
    deleted: Vec<(u64, Instant)>,
}

/// A row as Milvus returns it.
#[derive(Deserialize)]
struct Row {
    id: IdValue,
    #[serde(default)]
    vector: Vec<f32>,
    distance: Option<f32>,
    person_id: Option<String>,
    camera: Option<String>,
    timestamp: Option<f64>,
    #[serde(default)]
    tags: BTreeMap<String, Value>,
    image_b64: Option<String>,
}

/// Milvus writes int64 ids as strings (JSON numbers would lose precision) or numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(u64),
}

impl Row {
    fn id(&self) -> Result<u64, String> {
        match &self.id {
            IdValue::Number(n) => Ok(*n),
            IdValue::Text(t) => t.parse().map_err(|_| format!("id {t:?} is not an integer")),
        }
    }

    fn meta(&self) -> Meta {
        Meta {
            person_id: self.person_id.clone(),
            camera: self.camera.clone(),
            timestamp: self.timestamp,
            tags: self.tags.clone(),
        }
    }
}

impl MilvusStore {
    /// Connects to `HOST:PORT[/COLLECTION]` and reads the collection's dimension when it exists
    /// (it is created by [`Gallery::expect_dim`] otherwise).
    pub fn connect(address: &str) -> Result<Self, StoreError> {
        let (host, collection) = match address.split_once('/') {
            Some((host, c)) if !c.is_empty() => (host, c),
            Some((host, _)) => (host, DEFAULT_COLLECTION),
            None => (address, DEFAULT_COLLECTION),
        };
        let url = format!("milvus://{host}/{collection}");
        let valid_name = collection
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if host.is_empty() || !valid_name {
            return Err(StoreError::Milvus {
                url,
                message: "give milvus://HOST:PORT[/COLLECTION] (a collection name is letters, \
                          digits and _, not starting with a digit)"
                    .into(),
            });
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut store = Self {
            agent,
            base: format!("http://{host}/v1/vector"),
            url,
            collection: collection.to_owned(),
            dim: None,
            deleted: Vec::new(),
        };
        store.dim = store.describe()?.map(|(dim, _)| dim);
        Ok(store)
    }

    fn error(&self, message: impl Into<String>) -> StoreError {
        StoreError::Milvus {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    /// Sends one request and returns the answer's `data`; Milvus's error codes become errors
    /// (`Ok(Err(code))` for the codes the caller handles, given in `expected`).
    fn call(
        &self,
        path: &str,
        body: Option<Value>,
        expected: &[i64],
    ) -> Result<Result<Value, i64>, StoreError> {
        let url = format!("{}/{path}", self.base);
        let response = match body {
            Some(body) => self.agent.post(&url).send_json(body),
            None => self.agent.get(&url).call(),
        }
        .map_err(|e| self.error(format!("{path}: {e}")))?;
        let status = response.status();
        let mut answer: Value = response
            .into_body()
            .with_config()
            .limit(1 << 30)
            .read_json()
            .map_err(|e| self.error(format!("{path}: HTTP {status}, unreadable answer ({e})")))?;
        match answer["code"].as_i64() {
            Some(200) => Ok(Ok(answer["data"].take())),
            Some(code) if expected.contains(&code) => Ok(Err(code)),
            code => Err(self.error(format!(
                "{path}: {} (code {})",
                answer["message"].as_str().unwrap_or("no message"),
                code.map_or("none".into(), |c| c.to_string())
            ))),
        }
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, StoreError> {
        self.call(path, Some(body), &[])?
            .map_err(|code| self.error(format!("{path}: code {code}")))
    }

    /// The collection's dimension and load state, `None` when it does not exist.
    fn describe(&self) -> Result<Option<(usize, String)>, StoreError> {
        let path = format!("collections/describe?collectionName={}", self.collection);
        let Ok(data) = self.call(&path, None, &[COLLECTION_NOT_FOUND])? else {
            return Ok(None);
        };
        let fields = data["fields"].as_array().cloned().unwrap_or_default();
        let dim = fields.iter().find_map(|f| {
            let (name, kind) = (f["name"].as_str()?, f["type"].as_str()?);
            let dim = kind.strip_prefix("FloatVector(")?.strip_suffix(')')?;
            (name == "vector").then(|| dim.parse().ok()).flatten()
        });
        let has_id = fields
            .iter()
            .any(|f| f["name"] == "id" && f["primaryKey"] == true);
        match dim {
            Some(dim) if has_id => Ok(Some((
                dim,
                data["load"].as_str().unwrap_or_default().to_owned(),
            ))),
            _ => Err(self.error(
                "the collection is not a reid gallery (it needs a primary key `id` and a \
                 float vector `vector`); name another collection",
            )),
        }
    }

    /// Creates the collection for `dim`-d embeddings and waits until it is loaded.
    fn create(&self, dim: usize) -> Result<(), StoreError> {
        self.post(
            "collections/create",
            json!({
                "collectionName": self.collection,
                "dimension": dim,
                "metricType": "L2",
                "description": "reid gallery",
            }),
        )?;
        let started = Instant::now();
        loop {
            match self.describe()? {
                Some((_, state)) if state == "LoadStateLoaded" => return Ok(()),
                _ if started.elapsed() > LOAD_TIMEOUT => {
                    return Err(self.error("the new collection did not load in 120 s"));
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Ids deleted within [`DELETE_WINDOW`].
    fn recently_deleted(&self) -> impl Iterator<Item = u64> + '_ {
        self.deleted
            .iter()
            .filter(|(_, at)| at.elapsed() < DELETE_WINDOW)
            .map(|(id, _)| *id)
    }

    /// A Milvus boolean expression for `filter`, excluding recent deletions; `None` for all.
    fn expression(&self, filter: &Filter) -> Option<String> {
        let mut terms = Vec::new();
        if let Some(camera) = &filter.camera {
            let escaped = camera.replace('\\', "\\\\").replace('"', "\\\"");
            terms.push(format!("camera == \"{escaped}\""));
        }
        if let Some(since) = filter.since {
            terms.push(format!("timestamp >= {since}"));
        }
        if let Some(until) = filter.until {
            terms.push(format!("timestamp <= {until}"));
        }
        let mut deleted = self.recently_deleted().peekable();
        if deleted.peek().is_some() {
            let mut list = String::new();
            for id in deleted {
                let _ = write!(list, "{}{id}", if list.is_empty() { "" } else { "," });
            }
            terms.push(format!("id not in [{list}]"));
        }
        (!terms.is_empty()).then(|| terms.join(" and "))
    }

    /// Rows of `ids` (those that exist and are not recently deleted) with `fields`.
    fn rows(&self, ids: &[u64], fields: &[&str]) -> Result<Vec<Row>, StoreError> {
        let hidden: Vec<u64> = self.recently_deleted().collect();
        let ids: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| !hidden.contains(id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let data = self.post(
            "get",
            json!({"collectionName": self.collection, "id": ids, "outputFields": fields}),
        )?;
        serde_json::from_value(data).map_err(|e| self.error(format!("get: unexpected rows ({e})")))
    }
}

impl Gallery for MilvusStore {
    fn location(&self) -> String {
        self.url.clone()
    }

    fn count(&self) -> Result<usize, StoreError> {
        let filter = match self.expression(&Filter::default()) {
            Some(e) => format!("id >= 0 and {e}"),
            None => "id >= 0".into(),
        };
        let data = self.post(
            "query",
            json!({"collectionName": self.collection, "filter": filter,
                   "outputFields": ["count(*)"], "limit": 0}),
        )?;
        let count = &data[0]["count(*)"];
        count
            .as_u64()
            .or_else(|| count.as_str().and_then(|s| s.parse().ok()))
            .map(|n| n as usize)
            .ok_or_else(|| self.error(format!("query count(*): unexpected answer {data}")))
    }

    fn dim(&self) -> Option<usize> {
        self.dim
    }

    fn expect_dim(&mut self, dim: usize) -> Result<(), StoreError> {
        match self.dim {
            Some(store) if store != dim => Err(StoreError::ModelDim { store, model: dim }),
            Some(_) => Ok(()),
            None => {
                self.create(dim)?;
                self.dim = Some(dim);
                Ok(())
            }
        }
    }

    fn insert(&mut self, items: Vec<NewItem>) -> Result<Vec<u64>, StoreError> {
        let dim = self
            .dim
            .ok_or_else(|| self.error("the collection does not exist yet"))?;
        let (_, vectors) = unit_embeddings(&items, Some(dim))?;
        let rows: Vec<Value> = items
            .iter()
            .zip(vectors)
            .map(|(item, vector)| {
                let mut row = serde_json::to_value(&item.meta).expect("metadata serialises");
                row["vector"] = json!(vector);
                match &item.image {
                    Some(image) if image.len() <= MAX_IMAGE_BYTES => {
                        row["image_b64"] = base64::engine::general_purpose::STANDARD
                            .encode(image)
                            .into();
                    }
                    Some(image) => tracing::warn!(
                        "a {} byte crop is over the {MAX_IMAGE_BYTES} bytes a Milvus gallery \
                         keeps: enrolled without its image",
                        image.len()
                    ),
                    None => {}
                }
                row
            })
            .collect();
        let data = self.post(
            "insert",
            json!({"collectionName": self.collection, "data": rows}),
        )?;
        let ids: Vec<IdValue> = serde_json::from_value(data["insertIds"].clone())
            .map_err(|e| self.error(format!("insert: unexpected ids ({e})")))?;
        let ids = ids
            .into_iter()
            .map(|id| match id {
                IdValue::Number(n) => Some(n),
                IdValue::Text(t) => t.parse().ok(),
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| self.error("insert: ids are not integers"))?;
        if ids.len() != items.len() {
            return Err(self.error(format!(
                "insert: {} ids for {} items",
                ids.len(),
                items.len()
            )));
        }
        Ok(ids)
    }

    fn delete(&mut self, id: u64) -> Result<bool, StoreError> {
        if self.rows(&[id], &["id"])?.is_empty() {
            return Ok(false);
        }
        self.post(
            "delete",
            json!({"collectionName": self.collection, "id": id}),
        )?;
        self.deleted.retain(|(_, at)| at.elapsed() < DELETE_WINDOW);
        self.deleted.push((id, Instant::now()));
        Ok(true)
    }

    fn get(&self, id: u64) -> Result<Option<Entry>, StoreError> {
        let mut fields = vec!["vector", "image_b64"];
        fields.extend(META_FIELDS);
        let Some(row) = self.rows(&[id], &fields)?.pop() else {
            return Ok(None);
        };
        Ok(Some(Entry {
            id,
            meta: row.meta(),
            has_image: row.image_b64.is_some(),
            embedding: row.vector,
        }))
    }

    fn image(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(b64) = self
            .rows(&[id], &["image_b64"])?
            .pop()
            .and_then(|r| r.image_b64)
        else {
            return Ok(None);
        };
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Some)
            .map_err(|e| self.error(format!("item {id}: stored image is not base64 ({e})")))
    }

    fn vectors_of(&self, ids: &[u64]) -> Result<Vec<f32>, StoreError> {
        let mut by_id = HashMap::new();
        for row in self.rows(ids, &["vector"])? {
            by_id.insert(row.id().map_err(|e| self.error(e))?, row.vector);
        }
        Ok(ids
            .iter()
            .filter_map(|id| by_id.remove(id))
            .flatten()
            .collect())
    }

    fn search(&self, query: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>, StoreError> {
        let Some(q) = unit_query(query, self.dim)? else {
            return Ok(Vec::new());
        };
        let mut body = json!({"collectionName": self.collection, "vector": q, "limit": k,
                              "outputFields": META_FIELDS});
        if let Some(expression) = self.expression(filter) {
            body["filter"] = expression.into();
        }
        let rows: Vec<Row> = serde_json::from_value(self.post("search", body)?)
            .map_err(|e| self.error(format!("search: unexpected results ({e})")))?;
        let mut hits = rows
            .iter()
            .map(|row| {
                Ok(Hit {
                    id: row.id().map_err(|e| self.error(e))?,
                    distance: row.distance.unwrap_or(f32::NAN).max(0.0).sqrt(),
                    meta: row.meta(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        hits.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(address: &str) -> MilvusStore {
        MilvusStore {
            agent: ureq::Agent::new_with_defaults(),
            base: String::new(),
            url: format!("milvus://{address}"),
            collection: "g".into(),
            dim: Some(4),
            deleted: Vec::new(),
        }
    }

    #[test]
    fn filters_become_milvus_expressions_with_quotes_escaped() {
        let mut s = store("h:1");
        assert_eq!(s.expression(&Filter::default()), None);
        let f = Filter {
            camera: Some(r#"c"1\"#.into()),
            since: Some(10.0),
            until: Some(2.5e3),
        };
        assert_eq!(
            s.expression(&f).unwrap(),
            r#"camera == "c\"1\\" and timestamp >= 10 and timestamp <= 2500"#
        );
        s.deleted.push((7, Instant::now()));
        s.deleted.push((9, Instant::now() - DELETE_WINDOW));
        s.deleted.push((8, Instant::now()));
        assert_eq!(s.expression(&Filter::default()).unwrap(), "id not in [7,8]");
    }

    #[test]
    fn addresses_name_host_and_collection() {
        for bad in ["", "/coll", "h:1/9lives", "h:1/a-b"] {
            let err = MilvusStore::connect(bad)
                .err()
                .expect("refused")
                .to_string();
            assert!(
                err.contains("milvus://HOST:PORT[/COLLECTION]"),
                "{bad}: {err}"
            );
        }
        // A well-formed address that nothing answers: the error names it.
        let err = MilvusStore::connect("127.0.0.1:9/people")
            .err()
            .expect("nothing listens on port 9")
            .to_string();
        assert!(
            err.starts_with("gallery milvus://127.0.0.1:9/people: "),
            "{err}"
        );
    }
}
