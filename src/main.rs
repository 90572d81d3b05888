//! The `syndic` binary: parse the command line, set up logging, run, map errors to exit codes
//! (0 ok, 1 runtime failure, 2 bad usage or bad config).

use std::process::ExitCode;

use clap::Parser;
use syndic::cli::{Cli, Command, UsageError};
use syndic::config::ConfigError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Run => "info",
        _ => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("syndic={default_level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("syndic: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(syndic::cli::execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(config_err) = err.downcast_ref::<ConfigError>() {
                eprintln!("{config_err}");
                return ExitCode::from(2);
            }
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("syndic: {}", chain.join(": "));
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
