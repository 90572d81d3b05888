//! The `syndic` binary: parse the command line, set up logging, run, map errors to exit codes
//! (0 ok, 1 runtime failure, 2 bad usage or bad config).

use std::io::IsTerminal;
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
    // Under journald (which sets $JOURNAL_STREAM for services whose output it reads) each line gets a
    // `<N>` priority prefix and no timestamp (journald adds its own); colours only on a terminal.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(JournalPriority(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_level(false)
                    .with_ansi(false),
            ))
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if matches!(cli.command, Command::Run) {
        // The daemon's poll cycle runs on this runtime at a lower priority; its HTTP server gets
        // threads of its own, at the process's priority (see `daemon::lower_thread_priority`).
        builder.on_thread_start(syndic::service::daemon::lower_thread_priority);
    }
    let runtime = match builder.build() {
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

/// A log line for journald: the syslog priority of its level as a `<N>` prefix (error 3, warning 4,
/// info 6, debug and trace 7), then the line as `F` writes it.
struct JournalPriority<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for JournalPriority<F>
where
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
