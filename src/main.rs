//! The `lpmhss` binary: parse the command line, start logging, run, map the outcome to an exit
//! code. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = lpmhss::cli::Cli::parse();
    // The demo talks to a person through its progress lines; keep its logs to warnings unless
    // asked otherwise.
    let quiet_demo = matches!(cli.command, lpmhss::cli::Command::Demo(_))
        && std::env::var_os("RUST_LOG").is_none();
    let level = cli.log_level.as_deref().or(quiet_demo.then_some("warn"));
    lpmhss::telemetry::init_logging(level);
    match lpmhss::app::run(cli) {
        Ok(code) => code,
        // A closed pipe (`lpmhss report | head`) is the reader's choice, not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line saying what is wrong; the chain says why.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("lpmhss: error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}
