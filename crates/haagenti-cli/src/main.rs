//! `haagenti`: compress and decompress files, pack tensors, encode progressive fragments.

mod bench;
mod codec;
mod files;
mod holo;
mod nct;
mod server;
mod tensor;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "haagenti", version, about = "Haagenti: compressed data and model weights for browsers and GPUs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decompress a file (streamed); the format is detected by its magic number.
    Decompress(codec::DecompressArgs),
    /// Compress a file (streamed).
    Compress(codec::CompressArgs),
    /// Tensor files: pack safetensors into HCT, unpack, inspect.
    Tensor {
        #[command(subcommand)]
        command: tensor::TensorCommand,
    },
    /// HoloTensor: encode an image or a tensor into progressive fragments, decode any subset.
    Holo {
        #[command(subcommand)]
        command: holo::HoloCommand,
    },
    /// NCT: encode a .safetensors model at a few bits per weight in progressive stages,
    /// decode all or the first stages, inspect sizes and SNR.
    Nct {
        #[command(subcommand)]
        command: nct::NctCommand,
    },
    /// Trace-driven benchmarks of the streaming and prefetch policies.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Train a zstd dictionary on sample files (or directories of them).
    Train(codec::TrainArgs),
    /// Serve assets as fragments over gRPC, gRPC-web and HTTPS, with the browser demo; with
    /// no --store, the embedded demo assets on https://127.0.0.1:8443/.
    Serve(haagenti_server::cli::ServeArgs),
    /// Fragment stores: add photos, tensors and whole models; list assets.
    Store {
        #[command(subcommand)]
        command: server::StoreCommand,
    },
    /// Stream an asset from a server (https://HOST:PORT/ASSET), verify every fragment, and
    /// write the reconstruction.
    Fetch(server::FetchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decompress(args) => codec::decompress(args),
        Command::Compress(args) => codec::compress(args),
        Command::Tensor { command } => tensor::run(command),
        Command::Holo { command } => holo::run(command),
        Command::Nct { command } => nct::run(command),
        Command::Bench { command } => bench::run(command),
        Command::Train(args) => codec::train(args),
        Command::Serve(args) => server::serve(args),
        Command::Store { command } => server::store(command),
        Command::Fetch(args) => server::fetch(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("haagenti: {}: {}", f.path.display(), f.message);
            ExitCode::FAILURE
        }
    }
}
