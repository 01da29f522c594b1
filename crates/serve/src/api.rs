//! The HTTP/JSON API (described in `openapi.json`, served fitted to the server's token, model
//! and limits): embedding, gallery enrolment and lookup, search with filters and optional
//! re-ranking, health, stats and metrics; plus the bearer-token check, JSON errors for every bad
//! request, and per-route request metrics.

use crate::batcher::Batcher;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::{Filter, Gallery, Hit, Meta, NewItem, StoreError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use reid_data::Preprocessor;
use reid_data::features::Features;
use reid_evaluation::rerank::{ReRankParams, re_rank};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub batcher: Batcher,
    pub pre: Arc<Preprocessor>,
    pub store: Arc<RwLock<Box<dyn Gallery>>>,
    pub metrics: Metrics,
    pub limits: Limits,
    pub token: Option<Arc<str>>,
    pub rerank: ReRankParams,
    /// For `/v1/stats`.
    pub model_name: Arc<str>,
    pub store_name: Arc<str>,
}

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_image_pixels: u64,
    pub max_top_k: usize,
}

/// Candidates re-scored by re-ranking when a search asks for it (at least `top_k`).
const RERANK_CANDIDATES: usize = 100;

pub fn router(state: AppState) -> Router {
    let dim = state.store.read().expect("store lock").dim();
    let doc = Bytes::from(openapi_document(
        state.token.is_some(),
        dim,
        state.limits.max_top_k,
    ));
    let api = Router::new()
        .route("/v1/embed", post(embed))
        .route("/v1/gallery", post(enrol))
        .route("/v1/gallery/{id}", get(get_item).delete(delete_item))
        .route("/v1/gallery/{id}/image", get(get_image))
        .route("/v1/search", post(search))
        .route("/v1/stats", get(stats))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/", get(|| async { Html(include_str!("web/index.html")) }))
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc) }),
        )
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(api)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The OpenAPI document of a server with these settings: `openapi.json` with the embedding size
/// (when known) and the `top_k` limit filled in and, without a token, neither the bearer
/// requirement nor the 401 answers (every route is open then).
fn openapi_document(token: bool, dim: Option<usize>, max_top_k: usize) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is JSON");
    let schemas = &mut doc["components"]["schemas"];
    if let Some(dim) = dim {
        schemas["Embedding"]["minItems"] = dim.into();
        schemas["Embedding"]["maxItems"] = dim.into();
    }
    schemas["SearchRequest"]["properties"]["top_k"]["maximum"] = max_top_k.into();
    if !token {
        let components = doc["components"].as_object_mut().expect("components");
        components.remove("securitySchemes");
        components["responses"]
            .as_object_mut()
            .expect("components.responses")
            .remove("Unauthorized");
        let paths = doc["paths"].as_object_mut().expect("paths");
        for operation in paths.values_mut().flat_map(|p| {
            p.as_object_mut()
                .expect("path item")
                .values_mut()
                .map(|o| o.as_object_mut().expect("operation"))
        }) {
            operation.remove("security");
            operation["responses"]
                .as_object_mut()
                .expect("responses")
                .remove("401");
        }
    }
    serde_json::to_string_pretty(&doc).expect("a JSON value prints")
}

/// Counts each request and its latency under its route pattern.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    s.metrics
        .latency
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    s.metrics
        .requests
        .with_label_values(&[&route, response.status().as_str()])
        .inc();
    response
}

/// Requires `Authorization: Bearer <token>` when the server has a token.
async fn authorize(
    State(s): State<AppState>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (Authorization: Bearer …)",
            ));
        }
    }
    Ok(next.run(req).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `axum::Json` whose rejections are JSON errors: 413 for a body over the limit, else 400.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => {
                let status = match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(ApiError::new(status, rejection.body_text()))
            }
        }
    }
}

/// An image (decoded from base64) or an embedding, as requests give them.
struct Input {
    image: Option<Vec<u8>>,
    embedding: Option<Vec<f32>>,
}

impl Input {
    /// Checks that exactly one of the two is given; `what` names the item in errors.
    fn new(
        image_b64: Option<&str>,
        embedding: Option<Vec<f32>>,
        what: &str,
    ) -> Result<Self, ApiError> {
        match (image_b64, embedding) {
            (Some(b64), None) => Ok(Self {
                image: Some(
                    decode_b64(b64).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?,
                ),
                embedding: None,
            }),
            (None, Some(e)) => Ok(Self {
                image: None,
                embedding: Some(e),
            }),
            _ => Err(ApiError::bad_request(format!(
                "{what}: give exactly one of image_b64 and embedding"
            ))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbedRequest {
    image_b64: Option<String>,
    #[serde(default)]
    images: Vec<ImageInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageInput {
    image_b64: String,
}

#[derive(Serialize)]
struct EmbedResponse {
    dim: usize,
    embeddings: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolRequest {
    items: Vec<EnrolItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolItem {
    image_b64: Option<String>,
    embedding: Option<Vec<f32>>,
    person_id: Option<String>,
    camera: Option<String>,
    timestamp: Option<f64>,
    #[serde(default)]
    tags: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchRequest {
    image_b64: Option<String>,
    embedding: Option<Vec<f32>>,
    #[serde(default = "default_top_k")]
    top_k: usize,
    camera: Option<String>,
    since: Option<f64>,
    until: Option<f64>,
    /// k-reciprocal re-ranking (the spec's `re_ranking.k1/k2/lambda_value`) of the nearest
    /// candidates.
    #[serde(default)]
    rerank: bool,
}

fn default_top_k() -> usize {
    10
}

#[derive(Serialize)]
struct SearchResponse {
    results: Vec<Hit>,
}

/// Decodes and pre-processes images on the blocking pool, then embeds them in one job.
async fn embed_images(s: &AppState, images: Vec<Vec<u8>>) -> Result<Features, ApiError> {
    let n = images.len();
    let (pre, max_pixels) = (s.pre.clone(), s.limits.max_image_pixels);
    let tensor = tokio::task::spawn_blocking(move || -> Result<Vec<f32>, ApiError> {
        let mut tensor = Vec::with_capacity(n * pre.image_len());
        for (i, bytes) in images.iter().enumerate() {
            let what = format!("image {i}");
            check_pixels(bytes, max_pixels, &what)?;
            let img =
                Preprocessor::decode_bytes(bytes, what.as_ref()).map_err(ApiError::bad_request)?;
            tensor.extend(
                pre.prepare(&img, what.as_ref())
                    .map_err(ApiError::bad_request)?,
            );
        }
        Ok(tensor)
    })
    .await
    .map_err(ApiError::internal)??;
    let mut feats = s
        .batcher
        .embed(tensor, n)
        .await
        .map_err(ApiError::internal)?;
    s.metrics.images.inc_by(n as u64);
    feats.l2_normalize();
    Ok(feats)
}

fn decode_b64(s: &str) -> Result<Vec<u8>, String> {
    let data = match s.strip_prefix("data:") {
        Some(url) => url.split_once(',').map_or(url, |(_, d)| d),
        None => s,
    };
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("invalid base64 ({e})"))
}

/// Refuses images whose header declares more than `max` pixels, before decoding them.
fn check_pixels(bytes: &[u8], max: u64, what: &str) -> Result<(), ApiError> {
    let dims = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok());
    match dims {
        Some((w, h)) if u64::from(w) * u64::from(h) > max => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is {w}×{h}, more than the {max} pixels allowed"),
        )),
        _ => Ok(()),
    }
}

async fn embed(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<EmbedRequest>,
) -> Result<axum::Json<EmbedResponse>, ApiError> {
    let mut images: Vec<String> = req.image_b64.into_iter().collect();
    images.extend(req.images.into_iter().map(|i| i.image_b64));
    if images.is_empty() {
        return Err(ApiError::bad_request(
            "give image_b64 or images: [{image_b64}]",
        ));
    }
    let images = images
        .iter()
        .enumerate()
        .map(|(i, b64)| {
            decode_b64(b64).map_err(|e| ApiError::bad_request(format!("image {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let feats = embed_images(&s, images).await?;
    Ok(axum::Json(EmbedResponse {
        dim: feats.dim,
        embeddings: feats.rows().map(<[f32]>::to_vec).collect(),
    }))
}

/// The embedding of every input: images embedded in one batch, given embeddings as they are.
async fn resolve(s: &AppState, inputs: &[Input]) -> Result<Vec<Vec<f32>>, ApiError> {
    let images: Vec<Vec<u8>> = inputs.iter().filter_map(|i| i.image.clone()).collect();
    let mut embedded = Vec::new();
    if !images.is_empty() {
        embedded = embed_images(s, images)
            .await?
            .rows()
            .map(<[f32]>::to_vec)
            .collect();
    }
    let mut rows = embedded.into_iter();
    Ok(inputs
        .iter()
        .map(|input| match &input.embedding {
            Some(e) => e.clone(),
            None => rows.next().expect("one row per image"),
        })
        .collect())
}

async fn enrol(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<EnrolRequest>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    if req.items.is_empty() {
        return Err(ApiError::bad_request("items is empty"));
    }
    let mut inputs = Vec::with_capacity(req.items.len());
    let mut metas = Vec::with_capacity(req.items.len());
    for (i, item) in req.items.into_iter().enumerate() {
        inputs.push(Input::new(
            item.image_b64.as_deref(),
            item.embedding,
            &format!("item {i}"),
        )?);
        metas.push(Meta {
            person_id: item.person_id,
            camera: item.camera,
            timestamp: item.timestamp,
            tags: item.tags,
        });
    }
    let embeddings = resolve(&s, &inputs).await?;
    let items: Vec<NewItem> = embeddings
        .into_iter()
        .zip(metas)
        .zip(inputs)
        .map(|((embedding, meta), input)| NewItem {
            embedding,
            meta,
            image: input.image,
        })
        .collect();
    let ids = write_store(&s, move |store| store.insert(items)).await?;
    Ok(axum::Json(serde_json::json!({ "ids": ids })))
}

/// Runs a change of the gallery on the blocking pool (it waits for the disk or the Milvus
/// server), then updates the gallery-size metric.
async fn write_store<T: Send + 'static>(
    s: &AppState,
    change: impl FnOnce(&mut dyn Gallery) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    let (out, count) = tokio::task::spawn_blocking(move || {
        let mut store = store.write().expect("store lock");
        let out = change(store.as_mut())?;
        Ok::<_, StoreError>((out, store.count()?))
    })
    .await
    .map_err(ApiError::internal)??;
    s.metrics.gallery_items.set(count as i64);
    Ok(out)
}

/// Reads the gallery on the blocking pool.
async fn read_store<T: Send + 'static>(
    s: &AppState,
    read: impl FnOnce(&dyn Gallery) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || read(store.read().expect("store lock").as_ref()))
        .await
        .map_err(ApiError::internal)?
}

fn parse_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request(format!("gallery id must be a number, not {id:?}")))
}

fn not_found(id: u64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no gallery item {id}"))
}

async fn get_item(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    read_store(&s, move |store| Ok(store.get(id)?))
        .await?
        .map(|e| axum::Json(e).into_response())
        .ok_or_else(|| not_found(id))
}

async fn get_image(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let bytes = read_store(&s, move |store| Ok(store.image(id)?))
        .await?
        .ok_or_else(|| not_found(id))?;
    let mime = image::guess_format(&bytes).map_or("application/octet-stream", |f| f.to_mime_type());
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

async fn delete_item(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    if write_store(&s, move |store| store.delete(id)).await? {
        Ok(axum::Json(serde_json::json!({ "deleted": id })).into_response())
    } else {
        Err(not_found(id))
    }
}

async fn search(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<axum::Json<SearchResponse>, ApiError> {
    if req.top_k == 0 || req.top_k > s.limits.max_top_k {
        return Err(ApiError::bad_request(format!(
            "top_k must be in 1..={}",
            s.limits.max_top_k
        )));
    }
    let input = Input::new(req.image_b64.as_deref(), req.embedding, "query")?;
    let query = resolve(&s, &[input]).await?.remove(0);
    let filter = Filter {
        camera: req.camera,
        since: req.since,
        until: req.until,
    };
    let (top_k, rerank, params) = (req.top_k, req.rerank, s.rerank);
    let results = read_store(&s, move |store| {
        let k = if rerank {
            top_k.max(RERANK_CANDIDATES)
        } else {
            top_k
        };
        let mut hits = store.search(&query, k, &filter)?;
        if rerank && !hits.is_empty() {
            let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
            let gallery = Features::from_rows(query.len(), store.vectors_of(&ids)?);
            let mut q = Features::from_rows(query.len(), query);
            q.l2_normalize();
            let dist = re_rank(&q, &gallery, &params);
            for (hit, d) in hits.iter_mut().zip(dist.row(0)) {
                hit.distance = *d;
            }
            hits.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        }
        hits.truncate(top_k);
        Ok(hits)
    })
    .await?;
    Ok(axum::Json(SearchResponse { results }))
}

async fn stats(State(s): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (count, dim) = read_store(&s, |store| Ok((store.count()?, store.dim()))).await?;
    Ok(axum::Json(serde_json::json!({
        "count": count,
        "dim": dim,
        "model": &*s.model_name,
        "store": &*s.store_name,
        "input": { "height": s.pre.height, "width": s.pre.width },
    })))
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::openapi_document;
    use serde_json::Value;

    fn document(token: bool) -> Value {
        serde_json::from_str(&openapi_document(token, Some(256), 77)).unwrap()
    }

    /// `(path, method, operation)` of every operation.
    fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
        let paths = doc["paths"].as_object().unwrap();
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().unwrap();
                item.iter()
                    .map(move |(m, op)| (path.as_str(), m.as_str(), op))
            })
            .collect()
    }

    #[test]
    fn bearer_requirement_and_401_only_with_a_token() {
        let with = document(true);
        assert!(with["components"]["securitySchemes"]["bearer"].is_object());
        for (path, method, op) in operations(&with) {
            let guarded = path.starts_with("/v1/") || path == "/metrics";
            assert_eq!(op.get("security").is_some(), guarded, "{method} {path}");
            assert_eq!(
                op["responses"].get("401").is_some(),
                guarded,
                "{method} {path}"
            );
        }
        let without = document(false);
        assert!(without["components"].get("securitySchemes").is_none());
        assert!(
            without["components"]["responses"]
                .get("Unauthorized")
                .is_none()
        );
        for (path, method, op) in operations(&without) {
            assert!(op.get("security").is_none(), "{method} {path}");
            assert!(op["responses"].get("401").is_none(), "{method} {path}");
        }
    }

    #[test]
    fn embedding_size_and_top_k_limit_are_the_servers() {
        let doc = document(false);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Embedding"]["minItems"], 256);
        assert_eq!(schemas["Embedding"]["maxItems"], 256);
        assert_eq!(
            schemas["SearchRequest"]["properties"]["top_k"]["maximum"],
            77
        );
        // The value bounds still mean "finite as a 32-bit float" after the round trip.
        let items = &schemas["Embedding"]["items"];
        for (bound, f32_bound) in [("maximum", f32::MAX), ("minimum", f32::MIN)] {
            assert_eq!(items[bound].as_f64().unwrap() as f32, f32_bound, "{bound}");
        }
        let unknown: Value = serde_json::from_str(&openapi_document(false, None, 1)).unwrap();
        assert!(
            unknown["components"]["schemas"]["Embedding"]
                .get("minItems")
                .is_none()
        );
    }

    #[test]
    fn every_reference_resolves() {
        fn check(doc: &Value, v: &Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let pointer = r.strip_prefix('#').expect("a local reference");
                        assert!(doc.pointer(pointer).is_some(), "{r} resolves");
                    }
                    m.values().for_each(|v| check(doc, v));
                }
                Value::Array(a) => a.iter().for_each(|v| check(doc, v)),
                _ => {}
            }
        }
        for token in [false, true] {
            let doc = document(token);
            check(&doc, &doc);
        }
    }
}
