//! The load generator, small: 16 clients for about 3 s (at most 40 assets each) against our
//! server over gRPC and HTTPS, and against nginx serving the same fragment files. Every
//! fragment must arrive and hash to its id; no run may see an error. Speed is not asserted
//! here; `scripts/bench-serve.sh` runs the full-size benchmark and prints the numbers.
//!
//! nginx is looked for in `$HAAGENTI_NGINX`, `/usr/sbin/nginx`, then `PATH`. Without it the
//! nginx part fails when `CI` is set and is skipped, loudly, otherwise.

mod common;

use std::time::Duration;

use common::load::{Layout, Load, Report, corpus, find_nginx, grpc_load, http_load, start_nginx, start_server};
use common::{client_tls, pki};

fn check(report: &Report, load: &Load) {
    eprintln!("{}", report.table_row());
    assert_eq!(report.errors, 0, "{}: errors: {:?}", report.label, report.first_errors);
    assert!(report.assets >= load.clients as u64, "{}: fewer assets than clients", report.label);
    assert_eq!(report.fragment_us.len() as u64, report.fragments, "{}: a fragment went unmeasured", report.label);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_get_every_fragment_verified() {
    let pki = pki("load");
    let store = pki.dir.join("store");
    let assets = corpus(&store).await;
    let load = Load { clients: 16, duration: Duration::from_secs(3), max_assets_per_client: 40 };
    let ca = std::fs::read(pki.dir.join("ca.pem")).unwrap();
    let tls = client_tls(&pki, b"http/1.1", false);
    eprintln!("{}", Report::table_header());

    let (server, addr) = start_server(&store, &pki.dir);
    check(&grpc_load("ours, gRPC stream", addr, &ca, &assets, load).await, &load);
    check(&http_load("ours, HTTPS GET", addr, tls.clone(), Layout::Api, &assets, load).await, &load);
    drop(server);

    let Some(nginx) = find_nginx() else {
        let how = "install it (scripts/setup.sh test does: apt-get install nginx) or set HAAGENTI_NGINX";
        if std::env::var_os("CI").is_some() {
            panic!("nginx is not installed, and CI is set so its part may not be skipped: {how}");
        }
        eprintln!("SKIPPED: the nginx part of many_clients_get_every_fragment_verified: nginx is not installed: {how}");
        return;
    };
    let (_nginx, addr) = start_nginx(&nginx, &store, &pki.dir, &pki.dir.join("nginx"));
    check(&http_load("nginx, HTTPS GET", addr, tls, Layout::Files, &assets, load).await, &load);
}
