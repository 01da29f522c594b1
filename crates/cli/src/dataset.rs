//! `reid dataset stats|check|convert|split`: the spec's sets (every `dataset.train_dataset_dir`,
//! the query and test sets of `evaluate.*` / `dataset.*`), in any layout, looked at before
//! training: statistics with an images-per-identity PNG, a check (non-zero exit with
//! `--strict` when it finds problems), conversion to a Market-1501 folder with a mapping file,
//! and a seeded split of a folder-per-identity set (`--from`) into train / query / gallery.

use crate::common::load_spec;
use anyhow::{Context, Result, bail};
use reid_data::ImageSet;
use reid_data::curate::check::{Split, check};
use reid_data::curate::convert::{MarketSplit, to_market};
use reid_data::curate::split;
use reid_data::curate::stats::SplitStats;
use reid_evaluation::plots::histogram::plot_images_per_identity;
use std::path::{Path, PathBuf};

/// What `reid dataset` does.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Action {
    /// Identities, images and cameras per split; images-per-identity histogram (PNG).
    Stats,
    /// Unreadable or tiny images, bad names, identities shared by train and test, queries
    /// without a gallery match, byte-identical images across splits.
    Check,
    /// The sets as a Market-1501 folder (+ mapping.csv) for other tools.
    Convert,
    /// A folder-per-identity set (`--from`) → train / query / gallery by identity.
    Split,
}

/// `reid dataset`'s arguments.
#[derive(clap::Args, Debug)]
pub struct DatasetArgs {
    action: Action,
    /// Experiment spec (YAML) naming the sets (`dataset.*`, `evaluate.*`).
    #[arg(
        short = 'e',
        long = "experiment_spec",
        aliases = ["experiment-spec", "experiment_spec_file"]
    )]
    spec: Option<PathBuf>,
    /// Results folder; the outputs go to RESULTS_DIR/dataset.
    #[arg(short = 'r', long = "results_dir", alias = "results-dir")]
    results_dir: PathBuf,
    /// `check`: exit non-zero when anything is found.
    #[arg(long)]
    strict: bool,
    /// `split`: the folder-per-identity set to split.
    #[arg(long)]
    from: Option<PathBuf>,
    /// `split`: seed of the identity shuffle and the query picks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `split`: share of the identities held out for query + gallery.
    #[arg(long = "test-fraction", default_value_t = 0.5)]
    test_fraction: f64,
    /// Spec overrides, `section.key=value`.
    overrides: Vec<String>,
}

pub fn run(args: &DatasetArgs) -> Result<()> {
    let spec = load_spec(
        args.spec.as_deref(),
        Some(&args.results_dir),
        &args.overrides,
    )?;
    reid_engine::model::use_threads(spec.num_threads);
    let out = args.results_dir.join("dataset");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    if let Action::Split = args.action {
        return split(args, &spec, &out);
    }
    let mut sets: Vec<(MarketSplit, &str, ImageSet)> = Vec::new();
    if !spec.dataset.train_dataset_dir.is_empty() {
        for source in spec.train_sets()? {
            sets.push((MarketSplit::Train, "train", ImageSet::read(&source)?));
        }
    }
    if let Some(eval) = spec.evaluation_sets() {
        sets.push((MarketSplit::Query, "query", ImageSet::read(&eval.query)?));
        sets.push((
            MarketSplit::Gallery,
            "gallery",
            ImageSet::read(&eval.gallery)?,
        ));
    }
    if sets.is_empty() {
        bail!(
            "missing setting: give dataset.train_dataset_dir and/or the query and test sets \
             (dataset.query_dataset_dir + dataset.test_dataset_dir, or evaluate.*)"
        );
    }
    for (_, name, set) in &sets {
        println!("{name}: {}", set.describe());
    }
    match args.action {
        Action::Stats => stats(&sets, &out),
        Action::Check => {
            let splits: Vec<Split> = sets
                .iter()
                .map(|(_, name, set)| Split { name, set })
                .collect();
            let found = check(&splits);
            let file = out.join("check.json");
            std::fs::write(&file, serde_json::to_string_pretty(&found)?)
                .with_context(|| format!("cannot write {}", file.display()))?;
            for (what, n) in [
                ("unreadable images", found.unreadable.len()),
                ("tiny images", found.tiny.len()),
                ("unreadable names", found.bad_names.len()),
                (
                    "identities in both train and test",
                    found.shared_identities.len(),
                ),
                (
                    "queries without a gallery match",
                    found.queries_without_match.len(),
                ),
                (
                    "byte-identical images across splits",
                    found.duplicates.len(),
                ),
            ] {
                println!("  {n:>6}  {what}");
            }
            println!(
                "reid dataset check: problems found: {}; {}",
                found.count(),
                file.display()
            );
            if args.strict && found.count() > 0 {
                bail!("{} problems found (--strict)", found.count());
            }
            Ok(())
        }
        Action::Convert => {
            if sets
                .iter()
                .filter(|(s, ..)| *s == MarketSplit::Train)
                .count()
                > 1
            {
                bail!("convert takes one training set; give dataset.train_dataset_dir one path");
            }
            let market = out.join("market");
            let pairs: Vec<(MarketSplit, &ImageSet)> =
                sets.iter().map(|(s, _, set)| (*s, set)).collect();
            let done = to_market(&pairs, &market)?;
            for (split, n) in &done.written {
                println!(
                    "  {n:>6} images → {}",
                    market.join(split.folder()).display()
                );
            }
            if done.without_camera > 0 {
                println!(
                    "  {} images had no camera id: camera 1 in train/query, 2 in the gallery",
                    done.without_camera
                );
            }
            println!("reid dataset convert: mapping {}", done.mapping.display());
            Ok(())
        }
        Action::Split => unreachable!("handled above"),
    }
}

fn stats(sets: &[(MarketSplit, &str, ImageSet)], out: &Path) -> Result<()> {
    let all: Vec<SplitStats> = sets
        .iter()
        .map(|(_, name, set)| SplitStats::of(name, set))
        .collect();
    for s in &all {
        let cameras = s
            .cameras
            .map_or("no camera ids".to_owned(), |c| format!("{c} cameras"));
        println!(
            "  {:<8} {:>7} images {:>6} identities  {cameras}",
            s.split, s.images, s.identities
        );
    }
    let file = out.join("stats.json");
    std::fs::write(&file, serde_json::to_string_pretty(&all)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    let png = out.join("images_per_identity.png");
    let hist: Vec<(&str, _)> = all
        .iter()
        .map(|s| (s.split.as_str(), &s.images_per_identity))
        .collect();
    plot_images_per_identity(&hist, &png)?;
    println!(
        "reid dataset stats: {} and {}",
        file.display(),
        png.display()
    );
    Ok(())
}

fn split(args: &DatasetArgs, spec: &reid_config::Spec, out: &Path) -> Result<()> {
    let Some(from) = &args.from else {
        bail!("missing setting: give --from DIR (a folder per identity) to split");
    };
    if !(args.test_fraction > 0.0 && args.test_fraction < 1.0) {
        bail!(
            "--test-fraction must be in (0, 1), not {}",
            args.test_fraction
        );
    }
    let source = reid_config::DataSource {
        path: from.clone(),
        layout: spec
            .dataset
            .layout
            .or(Some(reid_config::DatasetLayout::Folders)),
    };
    let set = ImageSet::read(&source)?;
    println!("{}", set.describe());
    let plan = split::plan(&set, args.seed, args.test_fraction);
    let target = out.join("split");
    if target.exists() {
        bail!(
            "{} already exists; remove it or choose another -r",
            target.display()
        );
    }
    split::write(&plan, from, &target)?;
    for (name, side) in [
        ("train", &plan.train),
        ("query", &plan.query),
        ("gallery", &plan.gallery),
    ] {
        let ids: std::collections::BTreeSet<i32> = side.iter().map(|r| r.pid).collect();
        println!(
            "  {name:<8} {:>7} images {:>6} identities → {}",
            side.len(),
            ids.len(),
            target.join(name).display()
        );
    }
    Ok(())
}
