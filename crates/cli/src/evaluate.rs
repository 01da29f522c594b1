//! `reid evaluate`: embeds the query and test sets with `evaluate.checkpoint` (or reads
//! `evaluate.features`), ranks the gallery through the evaluation pipeline
//! (`reid_engine::evaluation`), and writes `evaluate/results.json` (ranking metrics and
//! open-set verification), a CMC-curve, a ROC-curve and a sampled-matches PNG.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Context, Result, bail};
use reid_data::dataset::{parse_market_name, summarize};
use reid_data::{Features, ImageRecord, SetName, Skipped};
use reid_engine::evaluation::{Embedded, Evaluation, embed_set, evaluate, extract_options};
use reid_engine::ranking::Ranking;
use reid_engine::tao_status::TaoStatus;
use reid_evaluation::plots::{self, Match, MatchRow};
use reid_evaluation::verification::Verification;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Gallery crops shown per query in the sampled-matches plot.
const MATCHES_SHOWN: usize = 10;

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let out_dir = exp.subdir("evaluate", exp.spec.evaluate.results_dir.as_ref())?;
    let mut status = TaoStatus::start(&out_dir, "evaluate")?;
    let result = run_in(&exp, &out_dir, &mut status);
    status.finish(result)
}

fn run_in(exp: &Experiment, out_dir: &Path, status: &mut TaoStatus) -> Result<()> {
    let spec = &exp.spec;
    let ev = &spec.evaluate;
    let started = std::time::Instant::now();
    let (model, dataset, query, gallery) = match &ev.features {
        Some(file) => {
            let (q, g) = sides_from_embeddings(file)?;
            let source = format!("embeddings file {}", file.display());
            (source, json!({ "features": file }), q, g)
        }
        None => {
            let checkpoint = required(
                &[ev.checkpoint.as_ref()],
                "evaluate.checkpoint or evaluate.features",
            )?;
            let sets = spec.require_evaluation_sets()?;
            let q_set = exp.read_set(&sets.query, "query")?;
            let g_set = exp.read_set(&sets.gallery, "test")?;
            let mut model = exp.open_model(&checkpoint)?;
            let mut embed = |set, label| {
                embed_set(
                    model.model.as_mut(),
                    &model.pre,
                    set,
                    &extract_options(spec, label),
                )
            };
            let q = embed(&q_set, "query")?;
            let g = embed(&g_set, "test")?;
            let dataset = json!({
                "query": sets.query.path, "test": sets.gallery.path,
                "layout": {"query": q_set.layout, "test": g_set.layout},
            });
            (checkpoint.display().to_string(), dataset, q, g)
        }
    };
    let evaluation = evaluate(
        &query,
        &gallery,
        &Ranking::of_spec(spec),
        spec.re_ranking.max_rank,
    )?;
    let m = &evaluation.metrics;
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
        "reid evaluate: {} queries ({} valid) x {} gallery, {rerank_note}\n  {}",
        query.records.len(),
        m.num_valid_query,
        gallery.records.len(),
        evaluation.rule.describe()
    );
    // Verification needs both genuine and impostor pairs; a set without either still ranks.
    let verification = evaluation
        .verification(&query, &gallery)
        .inspect_err(|e| tracing::warn!("no verification figures: {e}"))
        .ok();
    let kpi = json!({
        "mAP": m.map, "cmc_rank_1": m.rank(1), "cmc_rank_5": m.rank(5),
        "cmc_rank_10": m.rank(10), "mINP": m.minp, "eer": verification.as_ref().map(|v| v.eer),
    });
    if let serde_json::Value::Object(kpi) = kpi {
        status.kpi("Test metrics generated.", kpi)?;
    }
    for (name, v) in [
        ("mAP", m.map),
        ("rank-1", m.rank(1)),
        ("rank-5", m.rank(5)),
        ("rank-10", m.rank(10)),
        ("mINP", m.minp),
    ] {
        println!("  {name:<8}{:>7.2}%", 100.0 * v);
    }
    if let Some(v) = &verification {
        print_verification(v);
    }
    let results = json!({
        "mAP": m.map,
        "rank1": m.rank(1),
        "rank5": m.rank(5),
        "rank10": m.rank(10),
        "mINP": m.minp,
        "cmc": m.cmc,
        "num_query": query.records.len(),
        "num_valid_query": m.num_valid_query,
        "num_gallery": gallery.records.len(),
        "camera_rule": evaluation.rule,
        "verification": verification,
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
    if let Some(v) = &verification {
        let roc_png = out_dir.join("roc_curve.png");
        plots::roc::plot_roc(v, "Verification ROC", &roc_png)?;
        println!("ROC curve: {}", roc_png.display());
    }
    if ev.num_sampled_matches > 0 {
        let matches_png = ev
            .output_sampled_matches_plot
            .clone()
            .unwrap_or_else(|| out_dir.join("sampled_matches.png"));
        let rows = sampled_rows(&evaluation, &query, &gallery, ev.num_sampled_matches);
        plots::plot_sampled_matches(&rows, (64, 128), &matches_png)?;
        println!("sampled matches: {}", matches_png.display());
    }
    Ok(())
}

/// The verification figures: EER, and TAR with its distance threshold at each FAR.
fn print_verification(v: &Verification) {
    println!(
        "  verification ({} genuine / {} impostor pairs, Euclidean distance): EER {:.2}%",
        v.num_genuine,
        v.num_impostor,
        100.0 * v.eer
    );
    for ((far, tar), t) in v.far.iter().zip(&v.tar).zip(&v.threshold) {
        let t = t.map_or("-".to_owned(), |t| format!("{t:.4}"));
        println!(
            "    TAR {:>6.2}% at FAR {far:.0e} (distance ≤ {t})",
            100.0 * tar
        );
    }
}

/// Query and test sides from an embeddings JSON: labels from the Market-1501 file names, the
/// side from each entry's `set`, else from a folder of its path (`query`; `bounding_box_test`,
/// `test` or `gallery`), as in files written by TAO's inference.
fn sides_from_embeddings(file: &Path) -> Result<(Embedded, Embedded)> {
    let records = reid_data::features::read_embeddings(file)?;
    let dim = records[0].embedding.len();
    let mut sides = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    let mut skipped = Vec::new();
    for r in records {
        let path = PathBuf::from(&r.img_path);
        let Some(set) = r.set.or_else(|| SetName::from_path(&path)) else {
            bail!(
                "{}: entry {} has no \"set\" (query|test) and no query or test folder in its path",
                file.display(),
                r.img_path
            );
        };
        let (labels, rows) = &mut sides[set as usize];
        match parse_market_name(&path) {
            Ok((-1, _)) => {}
            Ok((pid, camid)) => {
                labels.push(ImageRecord {
                    path,
                    pid,
                    camid: Some(camid),
                });
                rows.extend_from_slice(&r.embedding);
            }
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    if !skipped.is_empty() {
        tracing::warn!(
            "embeddings: {} entries skipped, names not in Market-1501 form{}",
            skipped.len(),
            summarize(&skipped)
        );
    }
    let [(q, qf), (g, gf)] = sides;
    for (side, name) in [(&q, "query"), (&g, "test")] {
        if side.is_empty() {
            bail!("{}: no usable {name} entries", file.display());
        }
    }
    Ok((
        Embedded::new(q, Features::from_rows(dim, qf)),
        Embedded::new(g, Features::from_rows(dim, gf)),
    ))
}

/// Evenly spaced queries with their top gallery matches for the sampled-matches plot.
fn sampled_rows(
    evaluation: &Evaluation,
    query: &Embedded,
    gallery: &Embedded,
    count: usize,
) -> Vec<MatchRow> {
    let nq = query.records.len();
    let count = count.min(nq);
    (0..count)
        .map(|i| {
            let qi = i * nq / count;
            let q = &query.records[qi];
            let camera = q.camid.map_or("-".to_owned(), |c| c.to_string());
            MatchRow {
                query: q.path.clone(),
                query_label: format!("id {} cam {camera}", q.pid),
                matches: evaluation
                    .top_matches(qi, MATCHES_SHOWN)
                    .into_iter()
                    .map(|j| Match {
                        path: gallery.records[j].path.clone(),
                        correct: gallery.records[j].pid == q.pid,
                        distance: evaluation.distances.row(qi)[j],
                    })
                    .collect(),
            }
        })
        .collect()
}
