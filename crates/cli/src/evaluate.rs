//! `reid evaluate`: embeds the query and test sets with `evaluate.checkpoint` (or reads
//! `evaluate.features`), ranks the gallery (optionally re-ranked), and writes
//! `evaluate/results.json`, a CMC-curve PNG and a sampled-matches PNG.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Context, Result, bail};
use reid_data::dataset::{parse_market_name, summarize};
use reid_data::{Features, ImageSet, SetName, Skipped};
use reid_engine::ranking::Ranking;
use reid_evaluation::DistMat;
use reid_evaluation::metrics::{self, Labels};
use reid_evaluation::plots::{self, Match, MatchRow};
use serde_json::json;
use std::path::{Path, PathBuf};

/// CMC curve length in results and plots.
const MAX_RANK: usize = 50;
/// Gallery crops shown per query in the sampled-matches plot.
const MATCHES_SHOWN: usize = 10;

/// One side of the evaluation: labelled images and their embeddings, row-aligned.
struct Side {
    paths: Vec<PathBuf>,
    pids: Vec<i32>,
    camids: Vec<u32>,
    features: Features,
}

impl Side {
    fn labels(&self) -> Labels<'_> {
        Labels {
            pids: &self.pids,
            camids: &self.camids,
        }
    }
}

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let spec = &exp.spec;
    let ev = &spec.evaluate;
    let out_dir = exp.subdir("evaluate")?;
    let started = std::time::Instant::now();
    let (model, dataset, mut query, mut gallery) = match &ev.features {
        Some(file) => {
            let (q, g) = sides_from_embeddings(file)?;
            let source = format!("embeddings file {}", file.display());
            (source.clone(), json!({ "features": file }), q, g)
        }
        None => {
            let (checkpoint, qdir, gdir) = inputs(&exp)?;
            let mut model = exp.open_model(&checkpoint)?;
            let q = embed_side(&exp, model.as_mut(), &qdir, "query")?;
            let g = embed_side(&exp, model.as_mut(), &gdir, "test")?;
            (
                checkpoint.display().to_string(),
                json!({ "query": qdir, "test": gdir }),
                q,
                g,
            )
        }
    };
    let (dist, m) = rank(spec, &mut query, &mut gallery)?;
    let rr = &spec.re_ranking;
    let rerank_note = if rr.re_ranking {
        format!(
            "re-ranking k1={} k2={} lambda={}",
            rr.k1, rr.k2, rr.lambda_value
        )
    } else {
        "no re-ranking".to_owned()
    };
    println!(
        "reid evaluate: {} queries ({} valid) x {} gallery, {rerank_note}",
        query.pids.len(),
        m.num_valid_query,
        gallery.pids.len()
    );
    for (name, v) in [
        ("mAP", m.map),
        ("rank-1", m.rank(1)),
        ("rank-5", m.rank(5)),
        ("rank-10", m.rank(10)),
        ("mINP", m.minp),
    ] {
        println!("  {name:<8}{:>7.2}%", 100.0 * v);
    }
    let results = json!({
        "mAP": m.map,
        "rank1": m.rank(1),
        "rank5": m.rank(5),
        "rank10": m.rank(10),
        "mINP": m.minp,
        "cmc": m.cmc,
        "num_query": query.pids.len(),
        "num_valid_query": m.num_valid_query,
        "num_gallery": gallery.pids.len(),
        "re_ranking": rr.re_ranking,
        "metric": ev.metric,
        "with_flip_feature": spec.model.with_flip_feature,
        "model": model,
        "dataset": dataset,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let results_file = out_dir.join("results.json");
    std::fs::write(&results_file, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("cannot write {}", results_file.display()))?;
    let cmc_png = ev
        .output_cmc_curve_plot
        .clone()
        .unwrap_or_else(|| out_dir.join("cmc_curve.png"));
    plots::plot_cmc(&m.cmc, &format!("CMC, {rerank_note}"), &cmc_png)?;
    println!(
        "results: {}\nCMC curve: {}",
        results_file.display(),
        cmc_png.display()
    );
    if ev.num_sampled_matches > 0 {
        let matches_png = ev
            .output_sampled_matches_plot
            .clone()
            .unwrap_or_else(|| out_dir.join("sampled_matches.png"));
        let rows = sampled_rows(&dist, &query, &gallery, ev.num_sampled_matches);
        plots::plot_sampled_matches(&rows, (64, 128), &matches_png)?;
        println!("sampled matches: {}", matches_png.display());
    }
    Ok(())
}

/// Ranks the gallery for every query as the spec says (normalised features, the metric or
/// re-ranking) and scores the ranking.
fn rank(
    spec: &reid_config::Spec,
    query: &mut Side,
    gallery: &mut Side,
) -> Result<(DistMat, metrics::Metrics)> {
    if query.features.dim != gallery.features.dim {
        bail!(
            "query embeddings are {}-d but test embeddings are {}-d",
            query.features.dim,
            gallery.features.dim
        );
    }
    query.features.l2_normalize();
    gallery.features.l2_normalize();
    let dist = Ranking::of_spec(spec).distances(&query.features, &gallery.features);
    let m = metrics::evaluate(&dist, query.labels(), gallery.labels(), MAX_RANK);
    if m.num_valid_query == 0 {
        bail!(
            "no query has a true match in the test set from another camera: check the query/test folders"
        );
    }
    Ok((dist, m))
}

/// The evaluation folders (`evaluate.*`, falling back to `dataset.*`) when both are set.
pub fn evaluation_set(exp: &Experiment) -> Option<(PathBuf, PathBuf)> {
    let (ev, ds) = (&exp.spec.evaluate, &exp.spec.dataset);
    let query = ev
        .query_dataset
        .as_ref()
        .or(ds.query_dataset_dir.as_ref())?;
    let test = ev.test_dataset.as_ref().or(ds.test_dataset_dir.as_ref())?;
    Some((query.clone(), test.clone()))
}

/// Scores `model` on the query and test folders as `reid evaluate` does.
pub fn score(
    exp: &Experiment,
    model: &mut dyn reid_modeling::Embedder,
    (qdir, gdir): &(PathBuf, PathBuf),
) -> Result<metrics::Metrics> {
    let mut q = embed_side(exp, model, qdir, "query")?;
    let mut g = embed_side(exp, model, gdir, "test")?;
    Ok(rank(&exp.spec, &mut q, &mut g)?.1)
}

/// Model and folders for evaluation: `evaluate.*`, falling back to `dataset.*`.
fn inputs(exp: &Experiment) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let (ev, ds) = (&exp.spec.evaluate, &exp.spec.dataset);
    Ok((
        required(
            &[ev.checkpoint.as_ref()],
            "evaluate.checkpoint or evaluate.features",
        )?,
        required(
            &[ev.query_dataset.as_ref(), ds.query_dataset_dir.as_ref()],
            "evaluate.query_dataset or dataset.query_dataset_dir",
        )?,
        required(
            &[ev.test_dataset.as_ref(), ds.test_dataset_dir.as_ref()],
            "evaluate.test_dataset or dataset.test_dataset_dir",
        )?,
    ))
}

fn embed_side(
    exp: &Experiment,
    model: &mut dyn reid_modeling::Embedder,
    dir: &Path,
    label: &str,
) -> Result<Side> {
    let set = ImageSet::read_market(dir)?;
    report_skipped(label, &set.skipped);
    let paths: Vec<PathBuf> = set.items.iter().map(|r| r.path.clone()).collect();
    let out = exp.embed(model, &paths, label)?;
    let items: Vec<_> = out.ok.iter().map(|&i| &set.items[i]).collect();
    Ok(Side {
        paths: items.iter().map(|r| r.path.clone()).collect(),
        pids: items.iter().map(|r| r.pid).collect(),
        camids: items.iter().map(|r| r.camid).collect(),
        features: out.features,
    })
}

/// Query and test sides from an embeddings JSON; labels come from the Market-1501 file names.
fn sides_from_embeddings(file: &Path) -> Result<(Side, Side)> {
    let records = reid_data::features::read_embeddings(file)?;
    let dim = records[0].embedding.len();
    let empty = || Side {
        paths: Vec::new(),
        pids: Vec::new(),
        camids: Vec::new(),
        features: Features::new(dim),
    };
    let (mut q, mut g) = (empty(), empty());
    let mut skipped = Vec::new();
    for r in records {
        let side = match r.set {
            Some(SetName::Query) => &mut q,
            Some(SetName::Test) => &mut g,
            None => bail!(
                "{}: entry {} has no \"set\" (query|test); write the file with `reid inference`",
                file.display(),
                r.img_path
            ),
        };
        let path = PathBuf::from(&r.img_path);
        match parse_market_name(&path) {
            Ok((-1, _)) => {}
            Ok((pid, camid)) => {
                side.paths.push(path);
                side.pids.push(pid);
                side.camids.push(camid);
                side.features.data.extend_from_slice(&r.embedding);
            }
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    report_skipped("embeddings", &skipped);
    for (side, name) in [(&q, "query"), (&g, "test")] {
        if side.pids.is_empty() {
            bail!("{}: no usable {name} entries", file.display());
        }
    }
    Ok((q, g))
}

fn report_skipped(label: &str, skipped: &[Skipped]) {
    if !skipped.is_empty() {
        tracing::warn!(
            "{label}: {} files skipped, names not in Market-1501 form{}",
            skipped.len(),
            summarize(skipped)
        );
    }
}

/// Evenly spaced queries with their top gallery matches for the sampled-matches plot.
fn sampled_rows(dist: &DistMat, query: &Side, gallery: &Side, count: usize) -> Vec<MatchRow> {
    let nq = query.pids.len();
    let count = count.min(nq);
    (0..count)
        .map(|i| {
            let qi = i * nq / count;
            let top = metrics::top_k(dist, qi, query.labels(), gallery.labels(), MATCHES_SHOWN);
            MatchRow {
                query: query.paths[qi].clone(),
                query_label: format!("id {} cam {}", query.pids[qi], query.camids[qi]),
                matches: top
                    .into_iter()
                    .map(|j| Match {
                        path: gallery.paths[j].clone(),
                        correct: gallery.pids[j] == query.pids[qi],
                        distance: dist.row(qi)[j],
                    })
                    .collect(),
            }
        })
        .collect()
}
