//! `reid`: the command line, in NVIDIA TAO's form
//! `reid <command> -e spec.yaml -r results_dir [-k key] [section.key=value …]`.

mod bench;
mod common;
mod dataset;
mod evaluate;
mod export;
mod inference;
mod search;
mod serve;
mod track;
mod train;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "reid",
    version,
    about = "Person re-identification: train, evaluate, embed, export, benchmark and serve ReID models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a native network (BoT / TAO recipe) with checkpoints, status.jsonl and resume.
    Train(CommonArgs),
    /// mAP, CMC and mINP of a model (or of an embeddings file) on query/test sets, with plots.
    Evaluate(CommonArgs),
    /// Embeddings of every query and test image, as JSON.
    Inference(CommonArgs),
    /// A native checkpoint to ONNX (fp32 or fp16), checked against it in ONNX Runtime.
    Export(CommonArgs),
    /// Model throughput and latency per batch size, and end-to-end extraction speed.
    Bench(CommonArgs),
    /// HTTP embedding and gallery-search service with a persistent gallery and a web page.
    Serve(serve::ServeArgs),
    /// Find the person of a query crop in camera frames (detector → crops → ReID).
    Search(search::SearchArgs),
    /// Track persons in videos or frame folders, with identities across cameras.
    Track(track::TrackArgs),
    /// HOTA (DetA, AssA, LocA), CLEAR-MOT and IDF1 of MOTChallenge tracker files, as TrackEval.
    TrackEval(track::TrackEvalArgs),
    /// A dataset's statistics, checks, conversion to Market-1501, or split by identity.
    Dataset(dataset::DatasetArgs),
}

/// The arguments every command shares (TAO's).
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Experiment spec (YAML).
    #[arg(
        short = 'e',
        long = "experiment_spec",
        aliases = ["experiment-spec", "experiment_spec_file"]
    )]
    spec: PathBuf,
    /// Folder for the command's outputs.
    #[arg(short = 'r', long = "results_dir", alias = "results-dir")]
    results_dir: PathBuf,
    /// Key of encrypted model files.
    #[arg(short = 'k', long = "key")]
    key: Option<String>,
    /// Spec overrides, `section.key=value`.
    overrides: Vec<String>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    reid_engine::memory::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(&args),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Inference(args) => inference::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Track(args) => track::run(&args),
        Command::TrackEval(args) => track::run_eval(&args),
        Command::Dataset(args) => dataset::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
