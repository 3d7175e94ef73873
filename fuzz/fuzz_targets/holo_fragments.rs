//! Any bytes as HoloTensor fragments: see `common/holo.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("common/holo.rs");

fuzz_target!(|data: &[u8]| holo_fragments(data));
