//! Any bytes as an HCT file (as they are, and with the preamble and index checksums fixed so
//! that mutations reach the index fields and the blocks), as a safetensors file, and as input
//! to the byte transforms (the reader's SSE2 code): opening and reading never panics or hangs;
//! whatever reads back passes its checksums and equals what a writer given the same tensors
//! writes and a reader reads back; transforms invert. The oracles are in `hct_common.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("hct_common.rs");

fuzz_target!(|data: &[u8]| hct_read(data));
