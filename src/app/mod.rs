//! Wiring: each subcommand's arguments → configuration, resources and the library call that
//! does the work. The only place (with `main`) that uses `anyhow`.

mod demo;
mod files;
mod publish;
mod reports;
pub mod serve;
mod simulate;

use crate::cli::{Cli, Command};
use anyhow::Context;
use std::process::ExitCode;

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::CheckConfig(args) => {
            let config = crate::config::Config::load(args.config.as_deref())?;
            print!("{}", config.to_redacted_toml());
            eprintln!("lpmhss: configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest(args) => files::ingest(args),
        Command::Report(args) => runtime()?.block_on(reports::report(args)),
        Command::Sql(args) => runtime()?.block_on(reports::sql(args)),
        Command::WaitingList(args) => runtime()?.block_on(reports::waiting_list(args)),
        Command::Breaches(args) => runtime()?.block_on(reports::breaches(args)),
        Command::DataQuality(args) => runtime()?.block_on(reports::data_quality(args)),
        Command::ExportStatswales(args) => runtime()?.block_on(reports::export_statswales(args)),
        Command::Compute(args) => runtime()?.block_on(files::compute(args)),
        Command::Serve(args) => serve::serve_command(args),
        Command::Simulate(args) => simulate::simulate_command(args),
        Command::Demo(args) => demo::demo_command(args),
    }
}

/// A multi-threaded runtime for the command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lpmhss")
        .build()
        .context("cannot start the async runtime")
}
