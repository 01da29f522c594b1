//! Evaluation at Market-1501 scale on synthetic features: 3,368 queries × 15,913 gallery,
//! 2,048-d. `cargo bench -p reid-evaluation --bench market_scale -- metrics|rerank`
//! times distances + CMC/mAP/mINP (or k-reciprocal re-ranking of all 19,281 items) and writes
//! seconds, threads and peak RSS to benches/results/market_scale_<mode>.json. One mode per
//! process, so that each peak RSS is its own.

use reid_data::Features;
use reid_evaluation::metrics::{Labels, evaluate};
use reid_evaluation::rerank::{ReRankParams, re_rank};
use reid_evaluation::{Distance, distance_matrix};
use std::time::Instant;

const NUM_QUERY: usize = 3368;
const NUM_GALLERY: usize = 15913;
const DIM: usize = 2048;
const NUM_IDS: u64 = 750;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// Features = identity centre + noise, so rankings are neither trivial nor random.
fn side(rng: &mut Rng, centres: &[f32], n: usize) -> (Features, Vec<i32>, Vec<u32>) {
    let mut f = Features::new(DIM);
    let (mut pids, mut cams) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let pid = rng.next() % NUM_IDS;
        let c = &centres[pid as usize * DIM..(pid as usize + 1) * DIM];
        f.data.extend(c.iter().map(|v| v + 4.0 * rng.unit()));
        pids.push(pid as i32 + 1);
        cams.push((rng.next() % 6) as u32 + 1);
    }
    f.l2_normalize();
    (f, pids, cams)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1e3)
}

fn main() {
    let mode = std::env::args()
        .skip(1)
        .find(|a| a == "metrics" || a == "rerank")
        .unwrap_or_else(|| "metrics".into());
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let centres: Vec<f32> = (0..NUM_IDS as usize * DIM).map(|_| rng.unit()).collect();
    let (q, qp, qc) = side(&mut rng, &centres, NUM_QUERY);
    let (g, gp, gc) = side(&mut rng, &centres, NUM_GALLERY);
    drop(centres);
    let rss_inputs = peak_rss_mb();
    let started = Instant::now();
    let dist = match mode.as_str() {
        "rerank" => re_rank(
            &q,
            &g,
            &ReRankParams {
                k1: 20,
                k2: 6,
                lambda_value: 0.3,
            },
        ),
        _ => distance_matrix(&q, &g, Distance::Euclidean),
    };
    let dist_s = started.elapsed().as_secs_f64();
    let m = evaluate(
        &dist,
        Labels {
            pids: &qp,
            camids: &qc,
        },
        Labels {
            pids: &gp,
            camids: &gc,
        },
        50,
    );
    let total_s = started.elapsed().as_secs_f64();
    let report = format!(
        "{{\n  \"mode\": \"{mode}\",\n  \"num_query\": {NUM_QUERY},\n  \"num_gallery\": {NUM_GALLERY},\n  \"dim\": {DIM},\n  \"threads\": {},\n  \"distance_seconds\": {dist_s:.3},\n  \"metrics_seconds\": {:.3},\n  \"total_seconds\": {total_s:.3},\n  \"peak_rss_mb\": {:.0},\n  \"peak_rss_inputs_mb\": {rss_inputs:.0},\n  \"mAP\": {:.4},\n  \"rank1\": {:.4}\n}}\n",
        rayon::current_num_threads(),
        total_s - dist_s,
        peak_rss_mb(),
        m.map,
        m.rank(1)
    );
    print!("{report}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/results");
    std::fs::create_dir_all(&out).expect("benches/results is writable");
    std::fs::write(out.join(format!("market_scale_{mode}.json")), report).expect("report written");
}
