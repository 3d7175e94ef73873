//! Total compressed size of small records with and without a libzstd-trained dictionary, ours
//! and libzstd's: `cargo run --release -p haagenti-tests --example dict_sizes`.
fn main() {
    for (name, samples) in [("paragraphs", haagenti_tests::text_paragraphs()), ("urls", haagenti_tests::url_records())]
    {
        let dict_bytes = zstd::dict::from_samples(&samples, 16 * 1024).unwrap();
        let dict = haagenti_zstd::ZstdDict::from_bytes(&dict_bytes).unwrap();
        for level in [1, 3, 19] {
            let ours: usize = samples
                .iter()
                .map(|s| haagenti_zstd::ZstdDictCompressor::new(&dict).with_level(level).compress(s).len())
                .sum();
            let mut c = zstd::bulk::Compressor::with_dictionary(level, &dict_bytes).unwrap();
            c.include_checksum(true).unwrap();
            let theirs: usize = samples.iter().map(|s| c.compress(s).unwrap().len()).sum();
            let plain: usize = samples.iter().map(|s| haagenti_zstd::compress(s, level).len()).sum();
            let raw: usize = samples.iter().map(|s| s.len()).sum();
            println!("{name} L{level}: raw {raw} plain {plain} ours+dict {ours} libzstd+dict {theirs}");
        }
    }
}
