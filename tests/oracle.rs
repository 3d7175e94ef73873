// The oracles shared by the integration tests and the fuzz targets (`fuzz/src/lib.rs`
// includes this file), so a fuzz finding and its regression test check the same thing.

/// The differential oracle shared by tests and fuzz targets: on any input, our decoder and
/// libzstd must agree. Whatever libzstd decodes we decode to the same bytes; whatever we decode,
/// libzstd decodes too. Inputs either side rejects only for size (output over `max_output`, or a
/// window over our configured maximum) are not compared.
pub fn zstd_agrees_with_libzstd(data: &[u8], max_output: usize) -> Result<(), String> {
    // libzstd also reads the legacy v0.1-v0.7 formats, which RFC 8878 does not cover.
    if data.len() >= 4 {
        let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        if (0xFD2F_B521..=0xFD2F_B527).contains(&magic) || magic == 0x1EB5_2FFD {
            return Ok(());
        }
    }
    if data.is_empty() {
        return Ok(());
    }
    let config = haagenti_zstd::DecoderConfig { max_output_size: max_output, ..Default::default() };
    let ours = haagenti_zstd::decompress_with(data, &config);
    let mut dctx = zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?;
    let theirs = dctx.decompress(data, max_output);
    match (ours, theirs) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(a), Ok(b)) => Err(format!("outputs differ: ours {} bytes, libzstd {} bytes", a.len(), b.len())),
        (Err(_), Err(_)) => Ok(()),
        // Limits are policy, not verdicts on the format: libzstd's one-shot decoder ignores the
        // window size, ours enforces the configured maximum.
        (Err(haagenti_zstd::Error::OutputLimit { .. }), _) => Ok(()),
        (Err(haagenti_zstd::Error::Frame(haagenti_zstd::FrameError::WindowTooLarge { .. })), _) => Ok(()),
        (_, Err(e)) if e.to_string().contains("Destination buffer is too small") => Ok(()),
        (Err(e), Ok(b)) => Err(format!("libzstd decodes {} bytes, ours fails: {e}", b.len())),
        (Ok(a), Err(e)) => Err(format!("ours decodes {} bytes, libzstd fails: {e}", a.len())),
    }
}

/// Streaming must agree with one-shot decoding, whatever the split points (taken from `splits`).
pub fn zstd_streaming_agrees(data: &[u8], splits: &[u8], max_output: usize) -> Result<(), String> {
    let config = haagenti_zstd::DecoderConfig { max_output_size: max_output, ..Default::default() };
    let one_shot = haagenti_zstd::decompress_with(data, &config);
    let mut decoder = haagenti_zstd::StreamDecoder::new(config);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut streamed: Result<(), haagenti_zstd::Error> = Ok(());
    for &s in splits.iter().cycle().take(data.len() + 1) {
        if pos >= data.len() {
            break;
        }
        let end = (pos + usize::from(s) + 1).min(data.len());
        if let Err(e) = decoder.feed(&data[pos..end], &mut out) {
            streamed = Err(e);
            break;
        }
        pos = end;
    }
    if pos < data.len() && streamed.is_ok() {
        // No split points: feed the rest at once.
        streamed = decoder.feed(&data[pos..], &mut out).map(drop);
    }
    let streamed = streamed.and_then(|()| decoder.finish()).map(|()| out);
    match (one_shot, streamed) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        (a, b) => Err(format!("one-shot {:?} vs streamed {:?}", a.map(|v| v.len()), b.map(|v| v.len()))),
    }
}

/// Streaming compression of `data` (after three control bytes: level, window log, how to cut
/// the input) must give a frame libzstd and our decoder, held to the window, read back exactly.
pub fn zstd_stream_compression_round_trips(data: &[u8]) -> Result<(), String> {
    let [level, window, cuts, input @ ..] = data else { return Ok(()) };
    let level = i32::from(level % 30) - 7;
    let window_log = 10 + window % 8;
    let compressor = haagenti_zstd::ZstdCompressor::with_level(level).window_log(window_log);
    let mut enc = haagenti_zstd::ZstdStreamEncoder::new(&compressor);
    let mut frame = Vec::new();
    let mut rest = input;
    let mut step = usize::from(*cuts) * 37 + 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        enc.push(&rest[..n], &mut frame);
        rest = &rest[n..];
        step = step * 7 % 5003 + 1;
    }
    enc.finish(&mut frame);
    let what = format!("level {level}, window 2^{window_log}");
    let theirs = zstd::stream::decode_all(&frame[..]).map_err(|e| format!("{what}: libzstd rejects our frame: {e}"))?;
    if theirs != input {
        return Err(format!("{what}: libzstd decodes different bytes"));
    }
    let config = haagenti_zstd::DecoderConfig { max_window_size: 1 << window_log, ..Default::default() };
    let ours = haagenti_zstd::Decompressor::new(config).decompress(&frame).map_err(|e| format!("{what}: ours: {e}"))?;
    if ours != input {
        return Err(format!("{what}: our decoder differs"));
    }
    Ok(())
}
