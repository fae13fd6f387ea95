//! `conformance`: build the suite's config, run it against a target, print the matrix.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use gateway_conformance::run::{Outcome, Report, matrix, run};
use gateway_conformance::{capabilities, scenario};

#[derive(Debug, Parser)]
#[command(name = "conformance")]
struct Cli {
    /// The suite folder (base.yaml, scenarios/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR")))]
    suite: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the merged config every target runs with.
    Config {
        /// Output file.
        out: PathBuf,
    },
    /// Run every case against a target.
    Run {
        /// Target name (its declared capabilities decide what is unsupported).
        #[arg(long)]
        target: String,
        /// Where the target answers, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        base_url: String,
        /// Write the report (JSON) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the scenario x target matrix from reports.
    Matrix {
        /// Report files.
        reports: Vec<PathBuf>,
    },
}

async fn main_inner(cli: Cli) -> Result<bool> {
    let corpus = scenario::load_dir(&cli.suite.join("scenarios"))?;
    match cli.command {
        Command::Config { out } => {
            let base = std::fs::read_to_string(cli.suite.join("base.yaml"))
                .context("reading base.yaml")?;
            let merged = scenario::merge(&base, &corpus)?;
            let text = serde_json::to_string_pretty(&merged)?;
            gateway_core::config::load_file_text(
                "conformance.json",
                &text,
                &gateway_core::PolicyRegistry::builtin(),
            )
            .map_err(|e| anyhow::anyhow!("the merged config is invalid:\n{e}"))?;
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} scenarios)", out.display(), corpus.len());
            Ok(true)
        }
        Command::Run {
            target,
            base_url,
            out,
        } => {
            let Some(caps) = capabilities(&target) else {
                bail!("unknown target `{target}`");
            };
            let report = run(&target, &caps, &base_url, &corpus).await?;
            let (mut pass, mut fail, mut unsupported) = (0, 0, 0);
            for (id, o) in &report.results {
                match o {
                    Outcome::Pass => pass += 1,
                    Outcome::Fail(why) => {
                        fail += 1;
                        println!("FAIL [{target}] {id}: {why}");
                    }
                    Outcome::Unsupported(caps) => {
                        unsupported += 1;
                        println!("not supported [{target}] {id}: needs {caps}");
                    }
                }
            }
            if let Some(out) = out {
                std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
            }
            println!("{}", matrix(std::slice::from_ref(&report)));
            println!("{pass} passed, {fail} failed, {unsupported} skipped");
            Ok(fail == 0)
        }
        Command::Matrix { reports } => {
            let mut all: Vec<Report> = Vec::new();
            for r in reports {
                all.push(serde_json::from_slice(
                    &std::fs::read(&r).with_context(|| format!("reading {}", r.display()))?,
                )?);
            }
            println!("{}", matrix(&all));
            let (mut pass, mut fail, mut unsupported) = (0, 0, 0);
            for (_, o) in all.iter().flat_map(|r| r.results.iter()) {
                match o {
                    Outcome::Pass => pass += 1,
                    Outcome::Fail(_) => fail += 1,
                    Outcome::Unsupported(_) => unsupported += 1,
                }
            }
            println!("conformance: {pass} passed, {fail} failed, {unsupported} skipped");
            Ok(fail == 0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(main_inner(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("conformance: {e:#}");
            ExitCode::FAILURE
        }
    }
}
