//! The bindings in Node's wasm engine (`wasm-pack test --node`).
#![cfg(target_arch = "wasm32")]

include!("cases/mod.rs");
