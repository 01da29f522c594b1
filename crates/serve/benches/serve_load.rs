//! Service load on loopback: `cargo bench -p reid-serve --bench serve_load --profile dev` starts
//! the service in-process with the bundled OMZ 0267 model (ONNX Runtime from .venv, 2 threads)
//! and a fresh store holding the bundled sample gallery (126 crops), then runs a fixed number of
//! requests from 1, 8 and 64 concurrent clients (threads with keep-alive connections) for:
//! embedding one crop, searching with a crop (embedding + top-10), and searching with an
//! embedding (top-10). Reports requests/s and p50/p99 latency; writes
//! benches/results/serve_load.json.

use base64::Engine;
use reid_config::Spec;
use reid_data::Preprocessor;
use reid_data::dataset::list_images;
use reid_engine::bench::peak_rss_bytes;
use reid_evaluation::rerank::ReRankParams;
use reid_serve::ServeOptions;
use reid_serve::api::Limits;
use reid_serve::batcher::BatchPolicy;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: [usize; 3] = [1, 8, 64];
/// Requests per measurement: (model-bound, search-only).
const REQUESTS: (usize, usize) = (192, 2048);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    let repo = repo();
    std::env::set_current_dir(&repo).expect("repository root");
    let spec = Spec::load(Path::new("specs/sample.yaml"), &[]).expect("sample spec");
    let model_path = spec
        .serve
        .model
        .clone()
        .expect("serve.model in the sample spec");
    let model =
        reid_modeling::open_model(&model_path, 2, spec.device, None).expect("the model opens");
    let pre = Preprocessor::from_spec(&spec);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let store = tempfile::tempdir().expect("temp dir");
    let opts = ServeOptions {
        addr: format!("127.0.0.1:{port}"),
        store: store.path().display().to_string(),
        token: None,
        batch: BatchPolicy {
            max_batch: spec.serve.max_batch,
            max_wait: Duration::from_millis(spec.serve.max_wait_ms),
            flip: false,
        },
        limits: Limits {
            max_body_bytes: spec.serve.max_body_bytes,
            max_image_pixels: spec.serve.max_image_pixels,
            max_top_k: spec.serve.max_top_k,
        },
        rerank: ReRankParams {
            k1: spec.re_ranking.k1,
            k2: spec.re_ranking.k2,
            lambda_value: spec.re_ranking.lambda_value,
        },
    };
    std::thread::spawn(move || reid_serve::serve(opts, model, pre).expect("the service runs"));
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections_per_host(128)
        .build()
        .into();
    let up = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        agent.get(format!("{base}/healthz")).call().is_ok()
    });
    assert!(up, "the service did not start");

    let b64 = |p: &Path| {
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).expect("image"))
    };
    let sample = repo.join("assets/sample/cuhk03-mini");
    let gallery = list_images(&sample.join("bounding_box_test")).expect("gallery");
    let items: Vec<Value> = gallery
        .iter()
        .map(|p| json!({ "image_b64": b64(p) }))
        .collect();
    post(
        &agent,
        &format!("{base}/v1/gallery"),
        &json!({ "items": items }),
    );
    let queries: Vec<String> = list_images(&sample.join("query"))
        .expect("queries")
        .iter()
        .map(|p| b64(p))
        .collect();
    let embedding = post(
        &agent,
        &format!("{base}/v1/embed"),
        &json!({"image_b64": queries[0]}),
    )["embeddings"][0]
        .clone();

    let queries = Arc::new(queries);
    let mut results = Vec::new();
    for (name, path, count) in [
        ("embed_image", "/v1/embed", REQUESTS.0),
        ("search_image_top10", "/v1/search", REQUESTS.0),
        ("search_embedding_top10", "/v1/search", REQUESTS.1),
    ] {
        for clients in CLIENTS {
            let url = format!("{base}{path}");
            let (queries, embedding) = (queries.clone(), embedding.clone());
            let body = move |i: usize| match name {
                "search_embedding_top10" => json!({"embedding": embedding, "top_k": 10}),
                "search_image_top10" => {
                    json!({"image_b64": queries[i % queries.len()], "top_k": 10})
                }
                _ => json!({"image_b64": queries[i % queries.len()]}),
            };
            let r = load(&agent, &url, clients, count, body);
            eprintln!(
                "{name:<24} {clients:>2} clients: {:>7.1} req/s, p50 {:>7.2} ms, p99 {:>7.2} ms",
                r["requests_per_s"].as_f64().unwrap_or(0.0),
                r["p50_ms"].as_f64().unwrap_or(0.0),
                r["p99_ms"].as_f64().unwrap_or(0.0)
            );
            results.push(json!({"case": name, "clients": clients, "result": r}));
        }
    }
    let metrics = agent
        .get(format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|r| r.into_body().read_to_string().ok())
        .unwrap_or_default();
    let batch_line = |suffix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("reid_model_batch_size_{suffix}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let mean_batch = batch_line("sum")
        .zip(batch_line("count"))
        .map(|(s, c)| s / c);
    let report = json!({
        "model": model_path,
        "threads": 2,
        "gallery": gallery.len(),
        "max_batch": spec.serve.max_batch,
        "max_wait_ms": spec.serve.max_wait_ms,
        "mean_model_batch": mean_batch,
        "cases": results,
        "peak_rss_mb": peak_rss_bytes().map(|b| b as f64 / 1e6),
    });
    let text = serde_json::to_string_pretty(&report).expect("JSON") + "\n";
    let out = repo.join("benches/results/serve_load.json");
    std::fs::write(&out, &text).expect("write results");
    println!("{text}");
    eprintln!("written to {}", out.display());
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> Value {
    agent
        .post(url)
        .send_json(body)
        .and_then(|r| r.into_body().with_config().limit(64 << 20).read_json())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// `count` requests spread over `clients` threads; requests/s and latency percentiles.
fn load(
    agent: &ureq::Agent,
    url: &str,
    clients: usize,
    count: usize,
    body: impl Fn(usize) -> Value + Send + Sync + Clone + 'static,
) -> Value {
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (agent, url, body) = (agent.clone(), url.to_owned(), body.clone());
            std::thread::spawn(move || {
                let mut ms = Vec::new();
                for i in (c..count).step_by(clients) {
                    let payload = body(i);
                    let t = Instant::now();
                    post(&agent, &url, &payload);
                    ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
                ms
            })
        })
        .collect();
    let mut ms: Vec<f64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    json!({
        "requests": ms.len(),
        "seconds": secs,
        "requests_per_s": ms.len() as f64 / secs,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    })
}
