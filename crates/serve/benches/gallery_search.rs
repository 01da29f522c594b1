//! Gallery search at scale: `cargo bench -p reid-serve --bench gallery_search [-- N]` enrols N
//! (default 1,000,000) synthetic 256-d embeddings into the embedded store (in batches of 10,000,
//! each fsynced), then times 200 top-100 searches exactly and through the IVF index at several
//! probe widths, with recall@100 against the exact results. The vectors imitate ReID
//! embeddings: identities are random unit directions, and every embedding is its identity's
//! direction plus noise of half its length (cosine ≈ 0.8 within an identity, ≈ 0 across). Two
//! galleries: 5,000 identities (≈200 crops each, as long tracks give: a query's 100 nearest are
//! its own identity's) and 10,000 (≈100 each: part of the 100 nearest are then other identities
//! at near-equal distances, which no index orders exactly). Writes
//! benches/results/gallery_search.json.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reid_engine::bench::peak_rss_bytes;
use reid_serve::store::{Filter, Gallery, LocalStore, Meta, NewItem, SearchParams};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

const DIM: usize = 256;
const IDENTITIES: [usize; 2] = [5_000, 10_000];
const QUERIES: usize = 200;
const TOP_K: usize = 100;
const BATCH: usize = 10_000;

fn unit(rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.random::<f32>() - 0.5).collect();
    reid_data::l2_normalize(&mut v);
    v
}

fn sample(centers: &[Vec<f32>], rng: &mut StdRng) -> Vec<f32> {
    let c = &centers[rng.random_range(0..centers.len())];
    let noise = unit(rng);
    c.iter().zip(&noise).map(|(a, b)| a + 0.5 * b).collect()
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[i]
}

/// Times `search` over every query: (p50 ms, p99 ms, results).
fn timed(
    queries: &[Vec<f32>],
    mut search: impl FnMut(&[f32]) -> Vec<u64>,
) -> (f64, f64, Vec<Vec<u64>>) {
    let mut ms = Vec::new();
    let mut results = Vec::new();
    for q in queries {
        let t = Instant::now();
        results.push(search(q));
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99), results)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map_or(1_000_000, |a| a.parse().expect("N is a number"));
    let galleries: Vec<_> = IDENTITIES.iter().map(|&ids| run(n, ids)).collect();
    let report = json!({
        "items": n,
        "dim": DIM,
        "queries": QUERIES,
        "top_k": TOP_K,
        "threads": rayon::current_num_threads(),
        "default_probe_fraction": SearchParams::default().probe_fraction,
        "galleries": galleries,
        "peak_rss_mb": peak_rss_bytes().map(|b| b as f64 / 1e6),
    });
    let out =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/results/gallery_search.json");
    let text = serde_json::to_string_pretty(&report).expect("JSON") + "\n";
    std::fs::write(&out, &text).expect("write results");
    println!("{text}");
    eprintln!("written to {}", out.display());
}

/// One gallery of `n` items around `identities` directions.
fn run(n: usize, identities: usize) -> serde_json::Value {
    let mut rng = StdRng::seed_from_u64(42);
    let centers: Vec<Vec<f32>> = (0..identities).map(|_| unit(&mut rng)).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = LocalStore::open_with(
        dir.path(),
        SearchParams {
            ivf_min: usize::MAX,
            ..SearchParams::default()
        },
    )
    .expect("store opens");
    let mut enrol_secs = 0.0;
    let mut done = 0;
    while done < n {
        let m = BATCH.min(n - done);
        let items: Vec<NewItem> = (0..m)
            .map(|_| NewItem {
                embedding: sample(&centers, &mut rng),
                meta: Meta::default(),
                image: None,
            })
            .collect();
        let t = Instant::now();
        store.insert(items).expect("enrolment");
        enrol_secs += t.elapsed().as_secs_f64();
        done += m;
    }
    eprintln!("{identities} identities: {n} enrolled in {enrol_secs:.1} s");
    let t = Instant::now();
    store.set_search_params(SearchParams::default());
    let build_secs = t.elapsed().as_secs_f64();
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| sample(&centers, &mut rng)).collect();
    let ids = |hits: Vec<reid_serve::store::Hit>| hits.into_iter().map(|h| h.id).collect();
    let all = Filter::default();
    let (exact_p50, exact_p99, truth) = timed(&queries, |q| {
        ids(store.search_exact(q, TOP_K, &all).expect("search"))
    });
    eprintln!("  exact: p50 {exact_p50:.1} ms, p99 {exact_p99:.1} ms");
    let mut ivf = Vec::new();
    for probe_fraction in [1.0 / 64.0, 1.0 / 32.0, 1.0 / 16.0, 1.0 / 8.0] {
        store.set_search_params(SearchParams {
            probe_fraction,
            ..SearchParams::default()
        });
        let (p50, p99, found) = timed(&queries, |q| {
            ids(store.search(q, TOP_K, &all).expect("search"))
        });
        let hits: usize = found
            .iter()
            .zip(&truth)
            .map(|(f, t)| f.iter().filter(|id| t.contains(id)).count())
            .sum();
        let recall = hits as f64 / (QUERIES * TOP_K) as f64;
        eprintln!(
            "  ivf probe {probe_fraction:.4}: p50 {p50:.2} ms, p99 {p99:.2} ms, recall@100 {recall:.4}"
        );
        ivf.push(json!({"probe_fraction": probe_fraction, "p50_ms": p50, "p99_ms": p99, "recall_at_100": recall}));
    }
    json!({
        "identities": identities,
        "enrol_items_per_s": n as f64 / enrol_secs,
        "index_build_s": build_secs,
        "exact": {"p50_ms": exact_p50, "p99_ms": exact_p99},
        "ivf": ivf,
        "log_bytes": std::fs::metadata(dir.path().join("gallery.log")).map(|m| m.len()).ok(),
    })
}
