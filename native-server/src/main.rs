//! `haagenti-server`: the fragment server with the browser demo (the same as `haagenti serve`).

use std::process::ExitCode;

use clap::Parser;
use haagenti_server::cli::ServeArgs;

/// Serves assets as fragments over gRPC, gRPC-web and HTTPS, and the browser demo at `/`.
#[derive(Debug, Parser)]
#[command(name = "haagenti-server", version)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match haagenti_server::cli::serve("haagenti-server", &cli.serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haagenti-server: {e}");
            ExitCode::FAILURE
        }
    }
}
