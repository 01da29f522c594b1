//! reid's deployment stage: `reid serve`, an HTTP/JSON embedding and gallery-search service.
//! The model runs on one thread behind a dynamic [`batcher`]; the gallery lives in a persistent
//! [`store`]; [`api`] maps routes to both and [`metrics`] counts what happens. Images go through
//! the same [`reid_data::Preprocessor`] as training, evaluation and inference.

pub mod api;
pub mod batcher;
mod error;
pub mod metrics;
pub mod store;

pub use error::{ApiError, ServeError};

use api::{AppState, Limits};
use batcher::{BatchPolicy, Batcher};
use metrics::Metrics;
use reid_data::Preprocessor;
use reid_evaluation::rerank::ReRankParams;
use reid_modeling::Embedder;
use std::sync::{Arc, RwLock};

/// Everything `reid serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: String,
    /// A folder (the embedded store) or `milvus://HOST:PORT[/COLLECTION]`.
    pub store: String,
    pub token: Option<String>,
    pub batch: BatchPolicy,
    pub limits: Limits,
    pub rerank: ReRankParams,
}

/// Opens the store, checks that the model fits it, and serves until SIGINT / SIGTERM. Prints
/// `listening on http://ADDR` on stdout once requests are accepted (with the real port when
/// the address asks for port 0).
pub fn serve(
    opts: ServeOptions,
    mut model: Box<dyn Embedder>,
    pre: Preprocessor,
) -> Result<(), ServeError> {
    let mut store = store::open(&opts.store)?;
    let probe = vec![0.0f32; pre.image_len()];
    let dim = model
        .embed(&probe, 1, pre.height, pre.width)
        .map_err(|e| ServeError::Model(e.to_string()))?
        .dim;
    store.expect_dim(dim)?;
    let count = store.count()?;
    tracing::info!(
        "gallery {}: {count} items; model {} ({dim}-d)",
        store.location(),
        model.describe()
    );
    let metrics = Metrics::default();
    metrics.gallery_items.set(count as i64);
    let state = AppState {
        model_name: model.describe().into(),
        store_name: store.location().into(),
        batcher: Batcher::start(model, pre.clone(), opts.batch, metrics.clone()),
        pre: Arc::new(pre),
        store: Arc::new(RwLock::new(store)),
        metrics,
        limits: opts.limits,
        token: opts.token.map(Into::into),
        rerank: opts.rerank,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&opts.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: opts.addr.clone(),
                source,
            })?;
        let local = listener.local_addr().map_err(ServeError::Runtime)?;
        println!("listening on http://{local}");
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(ServeError::Runtime)
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
