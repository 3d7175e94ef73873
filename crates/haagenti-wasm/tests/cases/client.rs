// The streaming client against a real fragment server: `scripts/wasm-test.sh` starts
// `haagenti-server --plain-http` with the demo assets and passes its URL in
// HAAGENTI_TEST_SERVER when these tests are compiled.

use std::cell::RefCell;
use std::rc::Rc;

use haagenti_wasm::{client_stats, get_manifest, list_assets, reset_client, stream_asset};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

fn server() -> String {
    match option_env!("HAAGENTI_TEST_SERVER") {
        Some(url) => url.to_string(),
        None => panic!(
            "HAAGENTI_TEST_SERVER is not set: run these tests with scripts/wasm-test.sh, which starts the server"
        ),
    }
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &key.into()).expect("a property")
}

fn num(o: &JsValue, key: &str) -> f64 {
    get(o, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}

fn message(e: JsError) -> String {
    let v = JsValue::from(e);
    v.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_default()
}

/// Options with collectors for the previews and progress callbacks.
struct Run {
    options: Object,
    previews: Rc<RefCell<Vec<JsValue>>>,
    progress: Rc<RefCell<Vec<JsValue>>>,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
}

fn run(transport: &str) -> Run {
    let options = Object::new();
    let previews = Rc::new(RefCell::new(Vec::new()));
    let progress = Rc::new(RefCell::new(Vec::new()));
    let p = previews.clone();
    let on_preview = Closure::<dyn FnMut(JsValue)>::new(move |v| p.borrow_mut().push(v));
    let q = progress.clone();
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |v| q.borrow_mut().push(v));
    Reflect::set(&options, &"onPreview".into(), on_preview.as_ref()).unwrap();
    Reflect::set(&options, &"onProgress".into(), on_progress.as_ref()).unwrap();
    Reflect::set(&options, &"transport".into(), &transport.into()).unwrap();
    Reflect::set(&options, &"prefetch".into(), &false.into()).unwrap();
    Run { options, previews, progress, _closures: vec![on_preview, on_progress] }
}

async fn first_image() -> String {
    let assets = list_assets(&server(), Some("photos/".into())).await.unwrap_or_else(|e| panic!("ListAssets: {}", message(e)));
    let assets: js_sys::Array = assets.unchecked_into();
    assert!(assets.length() >= 4, "the demo photos");
    let first = assets.get(0);
    assert_eq!(get(&first, "kind").as_string().unwrap(), "image");
    get(&first, "name").as_string().unwrap()
}

#[wasm_bindgen_test]
async fn lists_the_demo_assets_with_manifests() {
    let all: js_sys::Array = list_assets(&server(), None).await.unwrap_or_else(|e| panic!("ListAssets: {}", message(e))).unchecked_into();
    let kinds: Vec<String> = all.iter().map(|a| get(&a, "kind").as_string().unwrap()).collect();
    assert!(kinds.iter().any(|k| k == "image") && kinds.iter().any(|k| k == "tensor"), "{kinds:?}");
    let name = first_image().await;
    let m = get_manifest(&server(), &name).await.unwrap_or_else(|e| panic!("GetManifest: {}", message(e)));
    assert_eq!(get(&m, "qualityMetric").as_string().unwrap(), "psnr_db");
    let fragments: js_sys::Array = get(&m, "fragments").unchecked_into();
    assert_eq!(fragments.length(), 8);
    assert!(get_manifest(&server(), "no/such/asset").await.is_err());
}

/// Streams `name` in full over `transport`; returns the final preview's pixels.
async fn stream_in_full(name: &str, transport: &str) -> Vec<u8> {
    reset_client();
    let r = run(transport);
    let result = stream_asset(server(), name.to_string(), r.options.clone().into()).await.unwrap_or_else(|e| panic!("streamAsset: {}", message(e)));
    let manifest = get_manifest(&server(), name).await.ok().unwrap();
    let fragments: js_sys::Array = get(&manifest, "fragments").unchecked_into();
    let total: f64 = fragments.iter().map(|f| num(&f, "size")).sum();
    assert!(get(&result, "complete").as_bool().unwrap(), "{transport}: not complete");
    assert_eq!(get(&result, "reason").as_string().unwrap(), "complete");
    assert_eq!(num(&result, "bytesLoaded"), total);
    assert_eq!(get(&result, "transport").as_string().unwrap(), transport);
    // The first request asks for little (the cautious prior), so there are several.
    assert!(num(&result, "requests") >= 2.0, "{transport}: one request only");
    assert!(num(&result, "firstPreviewMs") >= 0.0);
    let previews = r.previews.borrow();
    assert!(previews.len() >= 2, "{transport}: {} previews", previews.len());
    let mut last = f64::NEG_INFINITY;
    for p in previews.iter() {
        let q = num(p, "quality");
        assert!(q >= last, "{transport}: quality dropped from {last} to {q}");
        last = q;
    }
    assert_eq!(num(previews.last().unwrap(), "fragmentsLoaded"), 8.0);
    let progress = r.progress.borrow();
    let bytes: Vec<f64> = progress.iter().map(|p| num(p, "bytesLoaded")).collect();
    assert!(bytes.windows(2).all(|w| w[0] <= w[1]), "{transport}: bytes went back: {bytes:?}");
    assert!(num(&client_stats(), "samples") >= 1.0, "{transport}: no transfer measured");
    Uint8Array::from(get(previews.last().unwrap(), "data")).to_vec()
}

#[wasm_bindgen_test]
async fn streams_an_image_in_full_the_same_over_grpc_web_and_plain_gets() {
    let name = first_image().await;
    let grpc = stream_in_full(&name, "grpc-web").await;
    let http = stream_in_full(&name, "http").await;
    assert!(!grpc.is_empty());
    assert!(grpc == http, "the final previews differ between transports");
}

/// The server's count of the gRPC and gRPC-web calls it received (from `GET /metrics`).
async fn grpc_calls() -> f64 {
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let url = JsValue::from(format!("{}/metrics", server()));
    let response = JsFuture::from(Promise::from(fetch.call1(&JsValue::NULL, &url).unwrap())).await.expect("GET /metrics");
    let text: Function = get(&response, "text").unchecked_into();
    let body = JsFuture::from(Promise::from(text.call0(&response).unwrap())).await.unwrap().as_string().unwrap();
    let line = body.lines().find_map(|l| l.strip_prefix("haagenti_grpc_requests_total ")).expect("the gRPC counter");
    line.trim().parse().unwrap()
}

#[wasm_bindgen_test]
async fn a_manifest_just_read_is_not_asked_for_again() {
    reset_client();
    let name = first_image().await;
    // getManifest, then streamAsset: one GetManifest, then one call a fragment request.
    let before = grpc_calls().await;
    get_manifest(&server(), &name).await.ok().unwrap();
    let r = run("grpc-web");
    let result = stream_asset(server(), name.clone(), r.options.clone().into()).await.unwrap_or_else(|e| panic!("streamAsset: {}", message(e)));
    assert!(get(&result, "complete").as_bool().unwrap());
    assert_eq!(grpc_calls().await - before, 1.0 + num(&result, "requests"), "the manifest was asked for twice");
    // resetClient forgets it: streamAsset alone asks once.
    reset_client();
    let before = grpc_calls().await;
    let r = run("grpc-web");
    let result = stream_asset(server(), name, r.options.clone().into()).await.unwrap_or_else(|e| panic!("streamAsset: {}", message(e)));
    assert_eq!(grpc_calls().await - before, 1.0 + num(&result, "requests"));
}

#[wasm_bindgen_test]
async fn a_byte_budget_stops_the_stream_and_a_second_call_continues_from_the_cache() {
    reset_client();
    let name = first_image().await;
    let manifest = get_manifest(&server(), &name).await.ok().unwrap();
    let sizes: Vec<f64> = js_sys::Array::from(&get(&manifest, "fragments")).iter().map(|f| num(&f, "size")).collect();
    // Room for the first two fragments and half the third.
    let max_bytes = sizes[0] + sizes[1] + (sizes[2] / 2.0).floor();
    let r = run("grpc-web");
    let budget = Object::new();
    Reflect::set(&budget, &"maxBytes".into(), &max_bytes.into()).unwrap();
    Reflect::set(&r.options, &"budget".into(), &budget).unwrap();
    let result = stream_asset(server(), name.clone(), r.options.clone().into()).await.unwrap_or_else(|e| panic!("streamAsset: {}", message(e)));
    assert_eq!(get(&result, "reason").as_string().unwrap(), "bytes");
    assert_eq!(num(&result, "bytesLoaded"), sizes[0] + sizes[1]);
    assert_eq!(num(&result, "fragmentsLoaded"), 2.0);
    let had = num(&result, "fragmentsLoaded");
    // Without a budget the rest arrives; what was held comes from the cache, not the server.
    let again = run("grpc-web");
    let result = stream_asset(server(), name, again.options.clone().into()).await.unwrap_or_else(|e| panic!("streamAsset: {}", message(e)));
    assert!(get(&result, "complete").as_bool().unwrap());
    assert_eq!(num(&result, "fromCache"), had);
}

#[wasm_bindgen_test]
async fn a_tensor_streams_with_values_in_its_previews() {
    reset_client();
    let all: js_sys::Array = list_assets(&server(), None).await.ok().unwrap().unchecked_into();
    let tensor = all.iter().find(|a| get(a, "kind").as_string().unwrap() == "tensor").expect("a tensor asset");
    let name = get(&tensor, "name").as_string().unwrap();
    let r = run("auto");
    let result = stream_asset(server(), name, r.options.clone().into()).await.unwrap_or_else(|e| panic!("streamAsset: {}", message(e)));
    assert!(get(&result, "complete").as_bool().unwrap());
    let previews = r.previews.borrow();
    let last = previews.last().expect("a preview");
    let values: js_sys::Float32Array = get(last, "values").unchecked_into();
    assert!(values.length() > 1000);
    assert!(num(last, "quality") > 0.99, "cosine with every fragment");
}

#[wasm_bindgen_test]
async fn bad_requests_reject_with_clear_errors() {
    let e = stream_asset(server(), "no/such/asset".into(), JsValue::UNDEFINED).await.expect_err("an error");
    let m = message(e);
    assert!(m.contains("GetManifest") && m.contains("gRPC status 5"), "{m}");

    let controller = web_sys::AbortController::new().unwrap();
    controller.abort();
    let options = Object::new();
    Reflect::set(&options, &"signal".into(), &controller.signal()).unwrap();
    let name = first_image().await;
    let e = stream_asset(server(), name.clone(), options.into()).await.expect_err("aborted");
    assert!(message(e).contains("aborted"));

    let options = Object::new();
    Reflect::set(&options, &"transport".into(), &"carrier-pigeon".into()).unwrap();
    let e = stream_asset(server(), name, options.into()).await.expect_err("bad transport");
    assert!(message(e).contains("unknown transport"));

    // Nothing listens on port 9 of the loopback.
    let e = stream_asset("http://127.0.0.1:9".into(), "x".into(), JsValue::UNDEFINED).await.expect_err("unreachable");
    assert!(message(e).contains("GetManifest at http://127.0.0.1:9"));
}
