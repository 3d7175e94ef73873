//! `haagenti serve`, `haagenti store add` and `haagenti fetch`: the fragment server, filling a
//! store, and streaming an asset from a server.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use haagenti::holo::Encoding;
use haagenti_server::client::{FetchOptions, GrpcClientBuilder};
use haagenti_server::ingest::{self, AddOptions};
use haagenti_server::{TlsConfig, store};

use crate::files::{Failure, fail, write_output};

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Encode a photo (PNG/JPEG), or every float tensor of a safetensors file (one tensor or a
    /// whole model), into fragments and add them to a store.
    Add(AddArgs),
    /// List the assets of a store.
    List {
        /// A directory, file:///DIR or s3://BUCKET/PREFIX.
        #[arg(long)]
        store: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The file.
    file: PathBuf,
    /// A directory, file:///DIR or s3://BUCKET/PREFIX (S3 settings from AWS_* variables).
    #[arg(long)]
    store: String,
    /// Fragments per asset.
    #[arg(long, default_value_t = 8)]
    fragments: u16,
    /// spectral, projection, lowrank, residual or nct (tensors too small or too odd for it get
    /// residual).
    #[arg(long, default_value = "spectral")]
    encoding: String,
    /// Quality of the lossy encodings, 1-100.
    #[arg(long, default_value_t = 75.0)]
    quality: f32,
    /// nct: bits a weight, 1 to 8 (at most --fragments stages).
    #[arg(long, default_value_t = 4.0)]
    bits: f32,
    /// The asset name (default: the file name; tensors are NAME/TENSOR).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// https://HOST:PORT/ASSET
    url: String,
    /// Where to write the reconstruction (PNG for images, safetensors for tensors);
    /// default: the asset's last name segment, with .png or .safetensors.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Stop after this many bytes of fragments.
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Stop once this quality is reached (PSNR dB for images, cosine for tensors).
    #[arg(long)]
    quality: Option<f64>,
    /// Stop after about this many milliseconds of transfer at --bandwidth-mbps (the server
    /// assumes 1 Mbit/s when none is given).
    #[arg(long)]
    max_time_ms: Option<u32>,
    /// The link's bandwidth to report to the server's policy, in Mbit/s.
    #[arg(long)]
    bandwidth_mbps: Option<f64>,
    /// Client certificate (PEM), for servers that require one.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// CA certificate (PEM) the server's certificate must chain to (e.g. the self-signed
    /// certificate `haagenti serve` prints); default: the public web roots.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(short, long)]
    force: bool,
}

fn runtime(path: &Path) -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| fail(path, e))
}

pub(crate) fn serve(args: haagenti_server::cli::ServeArgs) -> Result<(), Failure> {
    let rt = runtime(Path::new("serve"))?;
    rt.block_on(haagenti_server::cli::serve("haagenti", &args)).map_err(|e| fail(Path::new("serve"), e))
}

pub(crate) fn store(command: StoreCommand) -> Result<(), Failure> {
    match command {
        StoreCommand::Add(args) => add(args),
        StoreCommand::List { store: location } => {
            let at = Path::new(&location).to_path_buf();
            let store = store::open(&location).map_err(|e| fail(&at, e))?;
            let names = runtime(&at)?.block_on(store.asset_names()).map_err(|e| fail(&at, e))?;
            for n in names {
                println!("{n}");
            }
            Ok(())
        }
    }
}

fn add(args: AddArgs) -> Result<(), Failure> {
    let file = &args.file;
    let encoding = Encoding::from_name(&args.encoding).ok_or_else(|| {
        fail(file, format!("unknown encoding {:?} (spectral, projection, lowrank, residual, nct)", args.encoding))
    })?;
    let len = std::fs::metadata(file).map_err(|e| fail(file, e))?.len();
    if len > ingest::MAX_INPUT_BYTES {
        return Err(fail(file, format!("{len} bytes is over the {} byte limit", ingest::MAX_INPUT_BYTES)));
    }
    let bytes = std::fs::read(file).map_err(|e| fail(file, e))?;
    let name = match &args.name {
        Some(n) => n.clone(),
        // A model's tensors are MODEL/TENSOR; a photo keeps its file name.
        None if file.extension().is_some_and(|e| e == "safetensors") => {
            ingest::sanitize(&file.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        }
        None => ingest::sanitize(&file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
    };
    let opts = AddOptions { fragments: args.fragments, encoding, quality: args.quality, bits: args.bits };
    let started = Instant::now();
    let mut err = std::io::stderr();
    let encoded = ingest::encode_file(&name, &bytes, &opts, |done, total, asset| {
        if total > 1 && done < total {
            let _ = write!(err, "\rencoding {}/{total} {asset:<60.60}", done + 1);
            let _ = err.flush();
        }
    })
    .map_err(|e| fail(file, e))?;
    if encoded.len() > 1 {
        eprintln!();
    }
    let at = PathBuf::from(&args.store);
    let store = store::open(&args.store).map_err(|e| fail(&at, e))?;
    let total = encoded.len();
    let stored = runtime(&at)?.block_on(async {
        let mut bytes = 0u64;
        for (i, asset) in encoded.iter().enumerate() {
            bytes += ingest::store_asset(&store, asset).await.map_err(|e| fail(&at, e))?;
            if total > 1 {
                eprint!("\rstored {}/{total}, {:.1} MB", i + 1, bytes as f64 / 1e6);
            }
        }
        if total > 1 {
            eprintln!();
        }
        Ok::<u64, Failure>(bytes)
    })?;
    let fragments: usize = encoded.iter().map(|a| a.encoded.fragments.len()).sum();
    println!(
        "{} asset{} ({fragments} fragments, {stored} bytes from {len}) added to {} in {:.1} s",
        total,
        if total == 1 { "" } else { "s" },
        args.store,
        started.elapsed().as_secs_f64()
    );
    for a in encoded.iter().take(5) {
        println!("  {}", a.name);
    }
    if total > 5 {
        println!("  ... and {} more", total - 5);
    }
    Ok(())
}

pub(crate) fn fetch(args: FetchArgs) -> Result<(), Failure> {
    let url_path = PathBuf::from(&args.url);
    let uri: http::Uri = args.url.parse().map_err(|e| fail(&url_path, format!("not a URL: {e}")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(fail(&url_path, "give the asset as https://HOST:PORT/ASSET"));
    };
    let asset = uri.path().trim_start_matches('/').to_string();
    if asset.is_empty() {
        return Err(fail(&url_path, "no asset named: give https://HOST:PORT/ASSET"));
    }
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| fail(p, e));
    let mut tls = TlsConfig::default();
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        tls = TlsConfig::from_pem(read(cert)?, read(key)?).map_err(|e| fail(cert, e))?;
    }
    if let Some(ca) = &args.ca {
        tls = tls.with_ca_cert(read(ca)?);
    }
    let endpoint = format!("{scheme}://{authority}");
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(asset.rsplit('/').next().unwrap_or("asset")));
    let started = Instant::now();
    let fetched = runtime(&url_path)?.block_on(async {
        let mut client =
            GrpcClientBuilder::new(&endpoint).with_tls(tls).connect().await.map_err(|e| fail(&url_path, e))?;
        let mut options = FetchOptions {
            max_bytes: args.max_bytes,
            max_time_ms: args.max_time_ms,
            target_quality: args.quality,
            ..FetchOptions::default()
        };
        if let Some(mbps) = args.bandwidth_mbps {
            options.network.bandwidth_bps = mbps * 1e6;
        }
        client
            .fetch(&asset, &options, |p| {
                eprint!(
                    "\r{}/{} fragments, {} bytes, quality {:.3}",
                    p.fragments, p.total_fragments, p.bytes, p.quality
                );
            })
            .await
            .map_err(|e| fail(&url_path, e))
    })?;
    eprintln!();
    let received = fetched.decoder.received_count();
    if received == 0 {
        let first = fetched.manifest.fragments.first().map_or(0, |f| f.size);
        return Err(fail(&url_path, format!("the budget let no fragment through (the first is {first} bytes)")));
    }
    let bytes = fetched.decoder.bytes_received();
    let rec = fetched.decoder.reconstruct().map_err(|e| fail(&url_path, e))?;
    let is_image = matches!(rec, haagenti::holo::Reconstruction::Image { .. });
    let output = match args.output {
        Some(o) => o,
        None => {
            let mut name = output.into_os_string();
            name.push(if is_image { ".png" } else { ".safetensors" });
            PathBuf::from(name)
        }
    };
    let tensor_name = asset.split_once('/').map_or(asset.as_str(), |(_, t)| t);
    let out = crate::holo::reconstruction_bytes(rec, tensor_name).map_err(|e| fail(&output, e))?;
    write_output(&output, &out, args.force)?;
    println!(
        "{asset}: {received} of {} fragments ({bytes} bytes) verified in {:.2} s, written to {}",
        fetched.manifest.fragments.len(),
        started.elapsed().as_secs_f64(),
        output.display()
    );
    Ok(())
}
