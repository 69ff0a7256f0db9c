//! The `lpmhss` binary: parse the command line, start logging, run, map the outcome to an exit
//! code. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = lpmhss::cli::Cli::parse();
    lpmhss::telemetry::init_logging(cli.log_level.as_deref());
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
