//! The serving benchmark: our server (gRPC `StreamFragments`, and `GET /fragments/{id}`) and
//! nginx serving the same fragment files, loaded by the same generator on loopback. Prints a
//! Markdown table with date, machine and versions, and the ratios ours/nginx; with `--out FILE`
//! also writes it there. Run by `scripts/bench-serve.sh`:
//!
//! ```text
//! cargo bench -p haagenti-server --bench serve -- --clients 64 --secs 30 --out docs/serve-bench.md
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::load::{Layout, Load, Report, corpus, find_nginx, grpc_load, http_load, start_nginx, start_server};
use common::{client_tls, pki};

struct Args {
    clients: usize,
    secs: u64,
    slices: u32,
    out: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args { clients: 64, secs: 30, slices: 3, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--clients" => a.clients = it.next().and_then(|v| v.parse().ok()).expect("--clients N"),
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).expect("--secs SECONDS"),
            "--slices" => a.slices = it.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0).expect("--slices N"),
            "--out" => a.out = Some(it.next().expect("--out FILE").into()),
            // cargo bench passes --bench; nothing else is expected.
            _ => {}
        }
    }
    a
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| {
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)).trim().to_string()
        })
        .unwrap_or_default()
}

/// CPU seconds used so far by process `pid` and its children (nginx's workers).
fn cpu_secs(pid: u32) -> f64 {
    let ticks = |pid: &str| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name in parentheses: utime is the 12th, stime the 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        t(11) + t(12)
    };
    let pid = pid.to_string();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let total: f64 = ticks(&pid) + children.split_whitespace().map(ticks).sum::<f64>();
    total / 100.0 // USER_HZ is 100 on Linux
}

async fn measured<F: std::future::Future<Output = Report>>(pid: u32, run: F) -> (Report, f64) {
    let before = cpu_secs(pid);
    let report = run.await;
    (report, cpu_secs(pid) - before)
}

#[tokio::main]
async fn main() {
    let args = args();
    let pki = pki("bench");
    let store = pki.dir.join("store");
    eprintln!("encoding the corpus into {}", store.display());
    let assets = corpus(&store).await;
    let fragments: usize = assets.iter().map(|a| a.ids.len()).sum();
    let bytes: u64 = assets.iter().map(|a| a.bytes).sum();
    let load =
        Load { clients: args.clients, duration: Duration::from_secs(args.secs), max_assets_per_client: u64::MAX };
    let warm = Load { duration: Duration::from_secs(1), ..load };
    let ca = std::fs::read(pki.dir.join("ca.pem")).unwrap();
    let tls = client_tls(&pki, b"http/1.1", false);
    let load_before = sh("cat /proc/loadavg");

    // Both servers run throughout and the runs take turns in slices, so that whatever else
    // the machine is doing weighs on each about equally.
    let nginx = find_nginx().expect("nginx is not installed (scripts/setup.sh test installs it)");
    let (ours, ours_addr) = start_server(&store, &pki.dir);
    let (theirs, nginx_addr) = start_nginx(&nginx, &store, &pki.dir, &pki.dir.join("nginx"));
    eprintln!("our server on {ours_addr}, nginx on {nginx_addr}: warming up");
    grpc_load("warm-up", ours_addr, &ca, &assets, warm).await;
    http_load("warm-up", ours_addr, tls.clone(), Layout::Api, &assets, warm).await;
    http_load("warm-up", nginx_addr, tls.clone(), Layout::Files, &assets, warm).await;
    let labels = ["ours, gRPC StreamFragments", "ours, HTTPS GET", "nginx, HTTPS GET"];
    let mut rows: Vec<(Report, f64)> = labels
        .iter()
        .map(|l| (Report { label: l.to_string(), clients: args.clients, ..Report::default() }, 0.0))
        .collect();
    let slice = Load { duration: Duration::from_secs_f64(args.secs as f64 / f64::from(args.slices)), ..load };
    for round in 0..args.slices {
        eprintln!("slice {} of {}: {:?} each", round + 1, args.slices, slice.duration);
        let (r, cpu) = measured(ours.0.id(), grpc_load(labels[0], ours_addr, &ca, &assets, slice)).await;
        rows[0].0.absorb(r);
        rows[0].1 += cpu;
        let (r, cpu) =
            measured(ours.0.id(), http_load(labels[1], ours_addr, tls.clone(), Layout::Api, &assets, slice)).await;
        rows[1].0.absorb(r);
        rows[1].1 += cpu;
        let (r, cpu) =
            measured(theirs.0.id(), http_load(labels[2], nginx_addr, tls.clone(), Layout::Files, &assets, slice)).await;
        rows[2].0.absorb(r);
        rows[2].1 += cpu;
    }
    drop((ours, theirs));

    let mut md = String::new();
    let _ = writeln!(md, "{}", sh("date -u '+%Y-%m-%d %H:%M UTC'"));
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "Machine: {}; {} CPUs ({}); load average before: {load_before}.  ",
        sh("uname -srm"),
        sh("nproc"),
        sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'"),
    );
    let _ = writeln!(
        md,
        "Versions: haagenti-server {} (bench profile), {}.  ",
        env!("CARGO_PKG_VERSION"),
        sh(&format!("{} -v", nginx.display())).replace("nginx version: ", "")
    );
    let _ = writeln!(
        md,
        "Corpus: {} assets, {fragments} fragments, {:.2} MB (the repo's five photos and MiniLM's query tensor).  ",
        assets.len(),
        bytes as f64 / 1e6
    );
    let _ = writeln!(
        md,
        "Load: {} clients, each on its own TLS connection, {} s per run after a 1 s warm-up, in {} slices taking turns with the other runs; every fragment checked against its BLAKE3 id.",
        args.clients, args.secs, args.slices
    );
    let _ = writeln!(md);
    let (head, rule) = Report::table_header().split_once('\n').unwrap();
    let _ = writeln!(md, "{head} server CPU s | CPU ms per MB |");
    let _ = writeln!(md, "{rule}---:|---:|");
    for (r, cpu) in &rows {
        let _ = writeln!(md, "{} {cpu:.1} | {:.2} |", r.table_row(), cpu * 1000.0 / (r.bytes as f64 / 1e6));
    }
    let (grpc, http, nginx) = (&rows[0].0, &rows[1].0, &rows[2].0);
    let _ = writeln!(md);
    for (ours, what) in [(grpc, "gRPC stream"), (http, "HTTPS GET")] {
        let tput = ours.mb_per_s() / nginx.mb_per_s();
        let p99 = ours.asset_ms(0.99) / nginx.asset_ms(0.99);
        let verdict = if tput >= 1.0 && p99 <= 1.0 {
            "meets the target (at least nginx's throughput, no worse p99)"
        } else if tput < 0.8 {
            "FAILS: below 0.8x nginx's throughput"
        } else {
            "short of the target"
        };
        let _ = writeln!(
            md,
            "- ours ({what}) / nginx: throughput {tput:.2}x, p99 per asset {p99:.2}x (lower is better): {verdict}."
        );
    }
    let errors: u64 = rows.iter().map(|(r, _)| r.errors).sum();
    for (r, _) in &rows {
        if r.errors > 0 {
            let _ = writeln!(md, "- {}: {} errors, first: {:?}", r.label, r.errors, r.first_errors);
        }
    }
    print!("{md}");
    if let Some(out) = &args.out {
        let text = format!(
            "# Serving benchmark: haagenti-server against nginx\n\n\
             Written by `scripts/bench-serve.sh` (`cargo bench -p haagenti-server --bench serve`). The load \
             generator, our server and nginx share the machine, so the numbers include the client's CPU.\n\n\
             Latencies: per fragment, gRPC is the gap between fragments of a stream (the first: since the call), \
             HTTPS is one GET, request to whole body; per asset, gRPC is one `StreamFragments` call for the whole \
             asset, HTTPS is the asset's GETs one after another on one keep-alive connection. Throughput counts \
             fragment payload bytes.\n\nWhat it does not show: the corpus is small (0.44 MB in 48 fragments of about 9 KB), so every fragment is in our memory cache and in the page cache behind nginx's open-file cache; the machine has 2 CPUs and the load generator alone takes about one of them, so the runs are partly client-bound; nginx is Debian's 1.22 with OpenSSL 3.0, over HTTP/1.1 keep-alive, one request at a time per connection (no HTTP/2, no pipelining), which is how the generator also GETs from our server.\n\n{md}"
        );
        std::fs::write(out, text).unwrap();
        eprintln!("wrote {}", out.display());
    }
    if errors > 0 {
        std::process::exit(1);
    }
}
