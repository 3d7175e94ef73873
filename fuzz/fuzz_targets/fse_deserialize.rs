//! Any bytes as an FSE table description: reading never panics, and whatever reads back
//! serializes to a description that reads back to the same table.
#![no_main]

use haagenti_zstd::fse::FseTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((table, _)) = FseTable::deserialize(data, 9, 255) {
        let again = FseTable::deserialize(&table.serialize(), 9, 255).expect("our own description reads");
        assert_eq!(again.0, table);
        let _ = table.decoding_table();
    }
});
