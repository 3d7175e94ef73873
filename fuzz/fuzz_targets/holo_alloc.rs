//! Any bytes as HoloTensor fragments (cut at 0xFF, each part also pushed with its checksum made
//! valid, as `holo_fragments` does), pushed into one streaming decoder that previews every
//! fragment, then reconstructed: the peak heap, counted by the allocator below, stays within
//! `HoloDecoder::memory_bound` of the largest asset any part declares (within the decoder's
//! limit of 2^24 samples) and the longest part. A bound is only as good as the allocator that
//! checks it, so run it also under libFuzzer's own limits, which catch what the count cannot
//! (a leak, an allocation the bound's formula forgot):
//!
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none holo_alloc fuzz/seeds/holo_alloc -- \
//!     -rss_limit_mb=1024 -malloc_limit_mb=1024 -max_len=8192
//!
//! (2^24 samples at 48 bytes each is 768 MiB: the largest input this target lets a decoder
//! accept fits under those limits.)
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("holo_alloc_check.rs");

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fuzz_target!(|data: &[u8]| holo_alloc(data));
