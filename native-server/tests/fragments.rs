//! The fragment service end to end over real TLS on 127.0.0.1: mTLS clients streaming assets,
//! gRPC-web from a plain HTTP/1.1 client, HTTP fragments with ETags and ranges, bad requests,
//! slow clients, limits, the standard health and reflection services, and shutdown.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Pki, client_tls, config, http1, pki, start, tls_connect};
use haagenti_proto::grpc_web;
use haagenti_proto::v1 as pb;
use haagenti_proto::v1::fragment_service_client::FragmentServiceClient;
use haagenti_server::client::{FetchOptions, GrpcClientBuilder};
use haagenti_server::ingest::{AddOptions, encode_file};
use haagenti_server::store::fragment_id;
use haagenti_server::{Limits, ServerConfig, TlsConfig};
use http_body_util::Full;
use pb::stream_end::Reason;
use pb::stream_fragments_response::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic::transport::Channel;

fn client_config(pki: &Pki, with_cert: bool) -> TlsConfig {
    let read = |f: &str| std::fs::read(pki.dir.join(f)).unwrap();
    let tls = if with_cert {
        TlsConfig::from_pem(read("client.pem"), read("client.key")).unwrap()
    } else {
        TlsConfig::default()
    };
    tls.with_ca_cert(read("ca.pem"))
}

async fn channel(addr: SocketAddr, pki: &Pki) -> Channel {
    GrpcClientBuilder::new(format!("https://127.0.0.1:{}", addr.port()))
        .with_tls(client_config(pki, true))
        .channel()
        .await
        .unwrap()
}

async fn raw(addr: SocketAddr, pki: &Pki) -> FragmentServiceClient<Channel> {
    FragmentServiceClient::new(channel(addr, pki).await)
}

fn stream_request(assets: &[&str]) -> pb::StreamFragmentsRequest {
    pb::StreamFragmentsRequest { assets: assets.iter().map(|a| a.to_string()).collect(), ..Default::default() }
}

/// Every event of a stream: the fragments (checked against their ids), hints and the end.
async fn collect(
    client: &mut FragmentServiceClient<Channel>,
    req: pb::StreamFragmentsRequest,
) -> Result<(Vec<pb::Fragment>, Vec<String>, pb::StreamEnd), tonic::Status> {
    let mut stream = client.stream_fragments(req).await?.into_inner();
    let (mut fragments, mut hints, mut end) = (Vec::new(), Vec::new(), None);
    while let Some(msg) = stream.message().await? {
        match msg.event.expect("an event") {
            Event::Fragment(f) => {
                assert_eq!(fragment_id(&f.data), f.id, "a fragment's bytes do not hash to its id");
                fragments.push(f);
            }
            Event::Prefetch(p) => hints.extend(p.assets),
            Event::End(e) => end = Some(e),
        }
    }
    Ok((fragments, hints, end.expect("the stream ends with StreamEnd")))
}

const PHOTO: &str = "photos/astronaut.png";
const TENSOR: &str = "minilm/encoder.layer.0.attention.self.query.weight";
const NCT_TENSOR: &str = "minilm-nct/encoder.layer.0.attention.self.query.weight";

/// The crate's own client, with a client certificate, by host name.
async fn mtls_client(addr: SocketAddr, pki: &Pki) -> haagenti_server::client::FragmentClient {
    GrpcClientBuilder::new(format!("https://localhost:{}", addr.port()))
        .with_tls(client_config(pki, true))
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_mtls_client_streams_assets_and_every_fragment_is_the_one_encoded_here() {
    let pki = pki("stream");
    let (addr, stop, _task) = start(config(&pki.dir, true)).await;
    let mut client = mtls_client(addr, &pki).await;
    let names: Vec<String> = client.list_assets("").await.unwrap().into_iter().map(|a| a.name).collect();
    assert!(names.contains(&PHOTO.to_string()) && names.contains(&TENSOR.to_string()), "{names:?}");
    assert_eq!(client.list_assets("photos/").await.unwrap().len(), 5);

    // Pages of two follow each other without gaps or repeats.
    let mut raw_list = raw(addr, &pki).await;
    let (mut paged, mut token) = (Vec::new(), String::new());
    for _ in 0..10 {
        let page = raw_list
            .list_assets(pb::ListAssetsRequest { page_size: 2, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert!(page.assets.len() <= 2);
        paged.extend(page.assets.into_iter().map(|a| a.name));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(paged, names);

    // The server's fragments are exactly what encoding the same photo here gives.
    let photo = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/images/astronaut.png")).unwrap();
    let local = encode_file(PHOTO, &photo, &AddOptions::default(), |_, _, _| {}).unwrap();
    let local_ids: Vec<String> = local[0].encoded.fragments.iter().map(|f| fragment_id(f)).collect();

    let mut seen = Vec::new();
    let fetched = client.fetch(PHOTO, &FetchOptions::default(), |p| seen.push(*p)).await.unwrap();
    let ids: Vec<String> = fetched.manifest.fragments.iter().map(|f| f.id.clone()).collect();
    assert_eq!(ids, local_ids);
    assert!(fetched.decoder.is_complete());
    assert_eq!(fetched.end.unwrap().reason, Reason::Complete as i32);
    assert_eq!(seen.len(), 8);
    assert!(seen.windows(2).all(|w| w[1].quality > w[0].quality && w[1].bytes > w[0].bytes), "{seen:?}");
    assert_eq!(seen[7].quality, fetched.manifest.curve[7].quality);

    // A byte budget of one fragment and a byte sends exactly the first fragment.
    let mut raw = raw(addr, &pki).await;
    let first = fetched.manifest.fragments[0].size;
    let req = pb::StreamFragmentsRequest { max_bytes: first + 1, ..stream_request(&[PHOTO]) };
    let (frags, _, end) = collect(&mut raw, req).await.unwrap();
    assert_eq!(frags.iter().map(|f| f.index).collect::<Vec<_>>(), [0]);
    assert_eq!((end.reason, end.bytes_sent, end.fragments_sent), (Reason::ByteBudget as i32, first, 1));

    // Fragments the client holds are never sent again; a huge budget is simply no limit.
    let req = pb::StreamFragmentsRequest { have: ids[..3].to_vec(), max_bytes: u64::MAX, ..stream_request(&[PHOTO]) };
    let (frags, _, end) = collect(&mut raw, req).await.unwrap();
    assert_eq!(frags.iter().map(|f| f.index).collect::<Vec<_>>(), [3, 4, 5, 6, 7]);
    assert_eq!(end.reason, Reason::Complete as i32);

    // A quality target stops the tensor early, once the measured cosine reaches it.
    let req = pb::StreamFragmentsRequest { target_quality: 0.99, ..stream_request(&[TENSOR]) };
    let (frags, _, end) = collect(&mut raw, req).await.unwrap();
    assert_eq!(end.reason, Reason::QualityReached as i32);
    assert!(!frags.is_empty() && frags.len() < 8, "{} fragments", frags.len());
    assert!(frags.last().unwrap().quality >= 0.99);

    // A page of five photos under a budget: every photo gets a preview before any gets a
    // second fragment's worth of detail.
    let photos: Vec<String> = names.iter().filter(|n| n.starts_with("photos/")).cloned().collect();
    let mut firsts = 0;
    for p in &photos {
        firsts +=
            raw.get_manifest(pb::GetManifestRequest { asset: p.clone() }).await.unwrap().into_inner().fragments[0].size;
    }
    let page: Vec<&str> = photos.iter().map(String::as_str).collect();
    let req = pb::StreamFragmentsRequest { max_bytes: firsts, ..stream_request(&page) };
    let (frags, _, _) = collect(&mut raw, req).await.unwrap();
    let got: HashSet<&str> = frags.iter().map(|f| f.asset.as_str()).collect();
    assert_eq!(got.len(), 5, "a page budget of every first fragment reached only {got:?}");
    assert!(frags.iter().all(|f| f.index == 0));
    stop.send(()).unwrap();
}

/// NCT codebook stages through the server: the demo's NCT copy of the MiniLM tensor streams a
/// stage a fragment, each exactly the local encoding's, and the client's decoder gives what the
/// NCT decoder gives for that many stages; a quality target stops at the stage that reaches it.
#[tokio::test]
async fn a_weight_tensor_streams_as_nct_stages() {
    let pki = pki("nct");
    let (addr, stop, _task) = start(config(&pki.dir, true)).await;
    let mut client = mtls_client(addr, &pki).await;
    let tensor =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/minilm-l0-query.safetensors")).unwrap();
    let opts = AddOptions { encoding: haagenti_holo::Encoding::Nct, bits: 6.0, ..AddOptions::default() };
    let local = encode_file("minilm-nct", &tensor, &opts, |_, _, _| {}).unwrap();
    assert_eq!(local[0].name, NCT_TENSOR);
    let local_ids: Vec<String> = local[0].encoded.fragments.iter().map(|f| fragment_id(f)).collect();
    assert_eq!(local_ids.len(), 3, "6 bits a weight: three stages of 2");

    let mut seen = Vec::new();
    let fetched = client.fetch(NCT_TENSOR, &FetchOptions::default(), |p| seen.push(*p)).await.unwrap();
    let ids: Vec<String> = fetched.manifest.fragments.iter().map(|f| f.id.clone()).collect();
    assert_eq!(ids, local_ids);
    assert_eq!(fetched.manifest.encoding, "nct");
    assert!(seen.windows(2).all(|w| w[1].quality > w[0].quality), "{seen:?}");
    let parts = fetched.decoder.nct_parts().unwrap();
    assert_eq!(parts.stages, 3);
    let file = haagenti_nct::NctFile::parse(parts.file).unwrap();
    let want = file.decode_tensor(parts.tensor, 3).unwrap();
    let haagenti_holo::Reconstruction::Tensor { values, .. } = fetched.decoder.reconstruct().unwrap() else { panic!() };
    assert_eq!(values, want);

    // The cosine after two stages is the target: the server sends two fragments.
    let target = fetched.manifest.curve[1].quality;
    let mut raw = raw(addr, &pki).await;
    let req = pb::StreamFragmentsRequest { target_quality: target, ..stream_request(&[NCT_TENSOR]) };
    let (frags, _, end) = collect(&mut raw, req).await.unwrap();
    assert_eq!(frags.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(end.reason, Reason::QualityReached as i32);
    stop.send(()).unwrap();
}

#[tokio::test]
async fn sessions_teach_the_server_what_comes_next() {
    let pki = pki("prefetch");
    let (addr, stop, _task) = start(config(&pki.dir, true)).await;
    let mut raw = raw(addr, &pki).await;
    let order = ["photos/camera.png", "photos/coffee.png", "photos/chelsea.png"];
    for session in ["a", "b", "c"] {
        for asset in order {
            let req = pb::StreamFragmentsRequest { session: session.into(), max_bytes: 1, ..stream_request(&[asset]) };
            collect(&mut raw, req).await.unwrap();
        }
    }
    let req = pb::StreamFragmentsRequest { session: "d".into(), max_bytes: 1, ..stream_request(&[order[0]]) };
    let (_, hints, _) = collect(&mut raw, req).await.unwrap();
    assert_eq!(hints.first().map(String::as_str), Some(order[1]), "{hints:?}");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let pki = pki("nocert");
    // Started the way the design names it: PEM bytes through the builder.
    let read = |f: &str| std::fs::read(pki.dir.join(f)).unwrap();
    let tls = TlsConfig::from_pem(read("server.pem"), read("server.key")).unwrap().with_client_ca(read("ca.pem"));
    let server =
        haagenti_server::GrpcServerBuilder::new("127.0.0.1:0".parse().unwrap()).with_tls(tls).bind().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let refused = async {
        let mut c = GrpcClientBuilder::new(format!("https://127.0.0.1:{}", addr.port()))
            .with_tls(client_config(&pki, false))
            .connect()
            .await?;
        c.list_assets("").await
    };
    assert!(refused.await.is_err(), "a client without a certificate was served");
    // ...while one with a certificate still is.
    let mut ok = raw(addr, &pki).await;
    assert!(ok.list_assets(pb::ListAssetsRequest::default()).await.is_ok());
    stop.send(()).unwrap();
}

/// The gRPC-web frames of a response body: (flag, payload).
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    assert!(body.is_empty(), "trailing bytes after the frames");
    out
}

fn grpc_web(path: &str, content_type: &str, body: Vec<u8>) -> http::Request<Full<hyper::body::Bytes>> {
    http::Request::post(path)
        .header("host", "127.0.0.1")
        .header("content-type", content_type)
        .header("x-grpc-web", "1")
        .body(Full::new(body.into()))
        .unwrap()
}

#[tokio::test]
async fn grpc_web_from_a_plain_http1_client_lists_and_streams() {
    use base64::Engine as _;
    let pki = pki("grpcweb");
    let (addr, stop, _task) = start(config(&pki.dir, false)).await;
    let h1 = || client_tls(&pki, b"http/1.1", false);

    let body = grpc_web::encode_request(&pb::ListAssetsRequest::default());
    let req = grpc_web("/haagenti.v1.FragmentService/ListAssets", "application/grpc-web+proto", body.clone());
    let (status, ct, reply) = http1(addr, h1(), req).await.unwrap();
    assert_eq!((status.as_u16(), ct.as_str()), (200, "application/grpc-web+proto"));
    let list: pb::ListAssetsResponse = grpc_web::decode_unary_response(&reply).unwrap();
    assert_eq!(list.assets.len(), 7);

    // The text form (base64), as browsers without binary streams use; the reply's form
    // follows the Accept header, as grpc-web clients send it.
    let text = base64::engine::general_purpose::STANDARD.encode(&body);
    let mut req = grpc_web("/haagenti.v1.FragmentService/ListAssets", "application/grpc-web-text", text.into_bytes());
    req.headers_mut().insert("accept", http::HeaderValue::from_static("application/grpc-web-text"));
    let (status, ct, reply) = http1(addr, h1(), req).await.unwrap();
    assert_eq!((status.as_u16(), ct.as_str()), (200, "application/grpc-web-text+proto"));
    // Each frame is base64 on its own (padding may sit mid-body): decode piece by piece.
    let mut decoded = Vec::new();
    let mut rest = &reply[..];
    while !rest.is_empty() {
        let pad = rest.iter().position(|&b| b == b'=').unwrap_or(rest.len());
        let end = pad + rest[pad..].iter().take_while(|&&b| b == b'=').count();
        decoded.extend(base64::engine::general_purpose::STANDARD.decode(&rest[..end]).unwrap());
        rest = &rest[end..];
    }
    let again: pb::ListAssetsResponse = grpc_web::decode_unary_response(&decoded).unwrap();
    assert_eq!(again, list);

    // Server streaming over gRPC-web: one data frame per event, then the trailers.
    let body = grpc_web::encode_request(&stream_request(&[PHOTO]));
    let req = grpc_web("/haagenti.v1.FragmentService/StreamFragments", "application/grpc-web+proto", body);
    let (status, _, reply) = http1(addr, h1(), req).await.unwrap();
    assert_eq!(status, 200);
    let frames = frames(&reply);
    let (trailer_flag, trailers) = frames.last().unwrap();
    assert_eq!(*trailer_flag, 0x80);
    assert!(String::from_utf8_lossy(trailers).contains("grpc-status:0"), "{}", String::from_utf8_lossy(trailers));
    let events: Vec<pb::StreamFragmentsResponse> =
        frames[..frames.len() - 1].iter().map(|(_, p)| prost::Message::decode(&p[..]).unwrap()).collect();
    let fragments = events.iter().filter(|e| matches!(e.event, Some(Event::Fragment(_)))).count();
    assert_eq!(fragments, 8);

    // Malformed protobuf is an error status, not a dropped connection; the server goes on.
    let req = grpc_web(
        "/haagenti.v1.FragmentService/GetManifest",
        "application/grpc-web+proto",
        vec![0, 0, 0, 0, 3, 0xff, 0xff, 0xff],
    );
    let (status, headers, reply) = send(addr, &pki, req).await;
    assert_eq!(status, 200);
    // The status comes in the headers (a trailers-only reply) or in a trailer frame.
    let code = match headers.get("grpc-status") {
        Some(v) => v.to_str().unwrap().parse::<u32>().unwrap(),
        None => match grpc_web::decode_unary_response::<pb::AssetManifest>(&reply).unwrap_err() {
            grpc_web::GrpcWebError::Status { code, .. } => code,
            other => panic!("{other:?}"),
        },
    };
    assert_eq!(code, Code::Internal as u32, "malformed protobuf");
    let body = grpc_web::encode_request(&pb::ListAssetsRequest::default());
    let req = grpc_web("/haagenti.v1.FragmentService/ListAssets", "application/grpc-web+proto", body);
    assert_eq!(http1(addr, h1(), req).await.unwrap().0, 200);
    stop.send(()).unwrap();
}

async fn get(addr: SocketAddr, pki: &Pki, path: &str, headers: &[(&str, &str)]) -> (u16, http::HeaderMap, Vec<u8>) {
    let mut req = http::Request::get(path).header("host", "127.0.0.1");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(addr, pki, req.body(Full::<hyper::body::Bytes>::default()).unwrap()).await
}

/// One HTTP/1.1 request; status, headers and body.
async fn send(
    addr: SocketAddr,
    pki: &Pki,
    req: http::Request<Full<hyper::body::Bytes>>,
) -> (u16, http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let stream = tls_connect(addr, client_tls(pki, b"http/1.1", false)).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let res = sender.send_request(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status.as_u16(), parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn fragments_are_immutable_http_resources_with_etags_and_ranges() {
    let pki = pki("http");
    let (addr, stop, _task) = start(config(&pki.dir, false)).await;
    let (status, h, json) = get(addr, &pki, &format!("/assets/{PHOTO}/manifest.json"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h["cache-control"], "public, max-age=60, must-revalidate");
    let etag = h["etag"].to_str().unwrap().to_string();
    let manifest = haagenti_holo::Manifest::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    let (status, _, _) = get(addr, &pki, &format!("/assets/{PHOTO}/manifest.json"), &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);

    let id = &manifest.fragments[2];
    let path = format!("/fragments/{id}");
    let (status, h, whole) = get(addr, &pki, &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(fragment_id(&whole), *id);
    assert_eq!(h["etag"], format!("\"{id}\"").as_str());
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(h["accept-ranges"], "bytes");
    let tag = format!("\"{id}\"");
    let (status, _, body) = get(addr, &pki, &path, &[("if-none-match", &tag)]).await;
    assert_eq!((status, body.len()), (304, 0));
    let (status, h, part) = get(addr, &pki, &path, &[("range", "bytes=10-19")]).await;
    assert_eq!(status, 206);
    assert_eq!(part, &whole[10..20]);
    assert_eq!(h["content-range"], format!("bytes 10-19/{}", whole.len()).as_str());
    let (status, _, tail) = get(addr, &pki, &path, &[("range", "bytes=-5")]).await;
    assert_eq!((status, &tail[..]), (206, &whole[whole.len() - 5..]));
    let past = format!("bytes={}-", whole.len());
    let (status, h, _) = get(addr, &pki, &path, &[("range", &past)]).await;
    assert_eq!(status, 416);
    assert_eq!(h["content-range"], format!("bytes */{}", whole.len()).as_str());
    // If-Range with another tag: the whole fragment, not the range.
    let (status, _, body) = get(addr, &pki, &path, &[("range", "bytes=0-1"), ("if-range", "\"other\"")]).await;
    assert_eq!((status, body.len()), (200, whole.len()));

    let missing = fragment_id(b"no such fragment");
    assert_eq!(get(addr, &pki, &format!("/fragments/{missing}"), &[]).await.0, 404);
    for bad in ["/fragments/ABC", "/fragments/..%2F..%2Fetc%2Fpasswd", &format!("/fragments/{}", id.to_uppercase())] {
        assert_eq!(get(addr, &pki, bad, &[]).await.0, 400, "{bad}");
    }
    for bad in
        ["/assets/../../etc/manifest.json", "/assets/a%2F..%2F..%2Fx/manifest.json", "/assets/nope/manifest.json"]
    {
        let status = get(addr, &pki, bad, &[]).await.0;
        assert!(status == 400 || status == 404, "{bad}: {status}");
    }
    let (status, _, metrics) = get(addr, &pki, "/metrics", &[]).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("haagenti_http_not_modified_total 2"), "{metrics}");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_the_server_keeps_serving() {
    let pki = pki("bad");
    let (addr, stop, _task) = start(config(&pki.dir, true)).await;
    let mut c = raw(addr, &pki).await;
    let manifest = |name: &str| pb::GetManifestRequest { asset: name.into() };
    assert_eq!(c.get_manifest(manifest("nope")).await.unwrap_err().code(), Code::NotFound);
    for bad in ["../../etc/passwd", "/abs", "a//b", "x\0y", ""] {
        assert_eq!(c.get_manifest(manifest(bad)).await.unwrap_err().code(), Code::InvalidArgument, "{bad:?}");
    }
    for bad in ["../x", "ABC", &"g".repeat(64)] {
        let err = c.get_fragment(pb::GetFragmentRequest { id: bad.into() }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad:?}");
    }
    let err = c.get_fragment(pb::GetFragmentRequest { id: fragment_id(b"none") }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let status = |r: Result<tonic::Response<_>, tonic::Status>| r.map(drop).unwrap_err().code();
    assert_eq!(status(c.stream_fragments(stream_request(&[])).await), Code::InvalidArgument);
    assert_eq!(status(c.stream_fragments(stream_request(&["nope"])).await), Code::NotFound);
    let many = vec![PHOTO; 257];
    assert_eq!(status(c.stream_fragments(stream_request(&many)).await), Code::InvalidArgument);
    let nan = pb::StreamFragmentsRequest {
        network: Some(pb::NetworkConditions { bandwidth_bps: f64::NAN, ..Default::default() }),
        ..stream_request(&[PHOTO])
    };
    assert_eq!(status(c.stream_fragments(nan).await), Code::InvalidArgument);
    let bad_have = pb::StreamFragmentsRequest { have: vec!["zz".into()], ..stream_request(&[PHOTO]) };
    assert_eq!(status(c.stream_fragments(bad_have).await), Code::InvalidArgument);
    // A message over the size limit is refused by the decoder before it is handled.
    let huge = pb::StreamFragmentsRequest { session: "x".repeat(17 << 20), ..stream_request(&[PHOTO]) };
    assert_eq!(status(c.stream_fragments(huge).await), Code::OutOfRange);

    // A time budget with an unknown bandwidth plans for a cautious 1 Mbps: 200 ms are 25 kB.
    let timed = pb::StreamFragmentsRequest { max_time_ms: 200, ..stream_request(&[PHOTO]) };
    let (frags, _, end) = collect(&mut c, timed).await.unwrap();
    let sent: usize = frags.iter().map(|f| f.data.len()).sum();
    assert!(!frags.is_empty() && sent <= 25_000, "{sent} bytes in 200 ms at 1 Mbps");
    assert_eq!(end.reason, Reason::TimeBudget as i32);
    let timed = pb::StreamFragmentsRequest {
        max_time_ms: 1000,
        network: Some(pb::NetworkConditions { bandwidth_bps: 8.0 * 40_000.0, latency_ms: 20.0, packet_loss: 0.0 }),
        ..stream_request(&[PHOTO])
    };
    let (frags, _, end) = collect(&mut c, timed).await.unwrap();
    let sent: usize = frags.iter().map(|f| f.data.len()).sum();
    // 980 ms after the round trip at 40 kB/s: 39.2 kB, part of the photo's 49.7 kB.
    assert!(!frags.is_empty() && frags.len() < 8 && sent <= 39_200, "{sent} bytes in {} fragments", frags.len());
    assert_eq!(end.reason, Reason::TimeBudget as i32);
    assert!(c.list_assets(pb::ListAssetsRequest::default()).await.is_ok());
    stop.send(()).unwrap();
}

fn limited(pki: &Pki, limits: Limits) -> ServerConfig {
    ServerConfig { limits, ..config(&pki.dir, true) }
}

#[tokio::test]
async fn slow_and_silent_clients_are_cut_off_while_others_are_served() {
    let pki = pki("slow");
    let limits = Limits {
        handshake_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let (addr, stop, _task) = start(ServerConfig { client_ca: None, ..limited(&pki, limits) }).await;
    // A TCP connection that never starts TLS.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A TLS connection that sends half a request's headers and stops.
    let mut half = tls_connect(addr, client_tls(&pki, b"http/1.1", false)).await.unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n").await.unwrap();
    let mut c = raw(addr, &pki).await;
    assert!(c.list_assets(pb::ListAssetsRequest::default()).await.is_ok());
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the silent connection stayed open: {closed:?}");
    let closed = tokio::time::timeout(Duration::from_secs(5), half.read(&mut buf)).await.expect("still open");
    // hyper answers a header timeout by closing, possibly after a 408.
    let n = closed.unwrap_or(0);
    assert!(n == 0 || buf[..n].starts_with(b"HTTP/1.1 408"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(c.list_assets(pb::ListAssetsRequest::default()).await.is_ok());
    stop.send(()).unwrap();
}

#[tokio::test]
async fn per_client_stream_and_rate_limits_hold() {
    let pki = pki("limits");
    let limits = Limits { max_streams_per_client: 1, requests_per_second: 5, request_burst: 10, ..Limits::default() };
    let (addr, stop, _task) = start(limited(&pki, limits)).await;
    // Tiny HTTP/2 windows, so that the server cannot finish a stream nobody reads.
    let read = |f: &str| std::fs::read(pki.dir.join(f)).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(read("ca.pem")))
        .identity(tonic::transport::Identity::from_pem(read("client.pem"), read("client.key")))
        .domain_name("127.0.0.1");
    let ch = Channel::from_shared(format!("https://127.0.0.1:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .initial_stream_window_size(Some(1024))
        .initial_connection_window_size(Some(1 << 20))
        .connect()
        .await
        .unwrap();
    let mut c = FragmentServiceClient::new(ch);
    let page = ["photos/astronaut.png", "photos/coffee.png", "photos/chelsea.png", "photos/camera.png"];
    let held = c.stream_fragments(stream_request(&page)).await.unwrap();
    let second = c.stream_fragments(stream_request(&[PHOTO])).await.map(drop).unwrap_err();
    assert_eq!(second.code(), Code::ResourceExhausted);
    assert!(second.message().contains("fragment streams"), "{}", second.message());
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut limited = 0;
    for _ in 0..30 {
        if let Err(e) = c.list_assets(pb::ListAssetsRequest::default()).await {
            assert_eq!(e.code(), Code::ResourceExhausted);
            limited += 1;
        }
    }
    assert!(limited >= 15, "only {limited} of 30 quick requests were over a 5/s rate");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(c.list_assets(pb::ListAssetsRequest::default()).await.is_ok(), "the bucket did not refill");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn standard_health_and_reflection_answer() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let pki = pki("health");
    let (addr, stop, _task) = start(config(&pki.dir, true)).await;
    let ch = channel(addr, &pki).await;
    let mut health = HealthClient::new(ch.clone());
    for service in ["haagenti.v1.FragmentService", "haagenti.v1.CompressionService", ""] {
        let r = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service}");
    }
    let unknown = health.check(HealthCheckRequest { service: "nope.Service".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // The compression service shares the port.
    let mut compression = haagenti_proto::v1::compression_service_client::CompressionServiceClient::new(ch.clone());
    let text = b"the same port serves fragments and compression, ".repeat(100);
    let packed = compression
        .compress(pb::CompressRequest { codec: pb::Codec::Zstd as i32, level: 3, data: text.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(packed.data.len() < text.len() / 10);
    assert_eq!(zstd::decode_all(&packed.data[..]).unwrap(), text);
    let back = compression
        .decompress(pb::DecompressRequest { codec: pb::Codec::Unspecified as i32, data: packed.data })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.data, text);

    let mut reflection = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection.server_reflection_info(tokio_stream::iter([req])).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = replies.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in ["haagenti.v1.FragmentService", "haagenti.v1.CompressionService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    stop.send(()).unwrap();
}

#[tokio::test]
async fn shutdown_ends_running_streams_cleanly() {
    let pki = pki("shutdown");
    let (addr, stop, task) = start(config(&pki.dir, true)).await;
    // A small HTTP/2 window, so the server cannot have queued the whole page into flow control
    // before shutdown begins: its producer is then blocked on this unread stream.
    let read = |f: &str| std::fs::read(pki.dir.join(f)).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(read("ca.pem")))
        .identity(tonic::transport::Identity::from_pem(read("client.pem"), read("client.key")))
        .domain_name("127.0.0.1");
    let channel = Channel::builder(format!("https://127.0.0.1:{}", addr.port()).parse().unwrap())
        .initial_stream_window_size(Some(16 << 10))
        .initial_connection_window_size(Some(64 << 10))
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = FragmentServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let names: Vec<String> = c
        .list_assets(pb::ListAssetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .assets
        .into_iter()
        .map(|a| a.name)
        .collect();
    let page: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut stream = c.stream_fragments(stream_request(&page)).await.unwrap().into_inner();
    assert!(matches!(stream.message().await.unwrap().unwrap().event, Some(Event::Fragment(_))));
    stop.send(()).unwrap();
    let mut fragments = 1;
    let mut end = None;
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.unwrap().unwrap() {
        match msg.event {
            Some(Event::Fragment(_)) => fragments += 1,
            Some(Event::End(e)) => end = Some(e),
            _ => {}
        }
    }
    let end = end.expect("the stream ended with StreamEnd, not a reset");
    assert_eq!(end.reason, Reason::Shutdown as i32);
    assert!(fragments < 48, "all {fragments} fragments were sent after shutdown began");
    tokio::time::timeout(Duration::from_secs(15), task).await.expect("the server stops").unwrap();
}
