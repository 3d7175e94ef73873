//! `compress` and `decompress` stream: any size, memory bounded by the window, not the data.
//!
//! Peak memory is the program's own high-water mark (`VmHWM` in `/proc/PID/status`, polled
//! while it runs). Its rusage would not do: `Command` spawns with vfork semantics, and the
//! child's `ru_maxrss` then includes this test process's own peak from before the exec.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Runs `haagenti` with `args` in `dir`, hands its standard output to `consume`, and returns
/// whether it succeeded, its standard error and its peak resident memory in bytes.
fn run_measured(args: &[&str], dir: &Path, consume: impl FnOnce(&mut dyn Read)) -> (bool, String, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haagenti"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let (done, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let monitor = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
                    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
                    line.split_whitespace().nth(1)?.parse::<u64>().ok()
                }) {
                    peak.fetch_max(kib * 1024, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    consume(&mut child.stdout.take().unwrap());
    let status = child.wait().unwrap();
    done.store(true, Ordering::Relaxed);
    monitor.join().unwrap();
    let peak = peak.load(Ordering::Relaxed);
    assert!(peak > 0, "no memory reading of the program (is /proc mounted?)");
    (status.success(), errors.join().unwrap(), peak)
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("haagenti-stream-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const BLOCK: usize = 128 * 1024;

/// A zstd frame of `blocks` RLE blocks of 128 KiB, block `i` repeating the byte `i % 251`: no
/// content size in the header, a 128 KiB window.
fn rle_frame(blocks: usize) -> Vec<u8> {
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    for i in 0..blocks {
        let header = u32::from(i + 1 == blocks) | (1 << 1) | ((BLOCK as u32) << 3);
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.push((i % 251) as u8);
    }
    f
}

#[test]
fn decompress_streams_past_a_gigabyte_in_bounded_memory() {
    let dir = scratch("rle");
    let blocks = 10_000; // 1.22 GiB of output from 40 kB
    std::fs::write(dir.join("big.zst"), rle_frame(blocks)).unwrap();
    let mut checked = 0usize;
    let (ok, errors, peak) = run_measured(&["decompress", "big.zst", "-o", "-"], &dir, |out| {
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = out.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (k, &b) in buf[..n].iter().enumerate() {
                let expected = ((checked + k) / BLOCK % 251) as u8;
                assert_eq!(b, expected, "byte {}", checked + k);
            }
            checked += n;
        }
    });
    assert!(ok, "{errors}");
    assert_eq!(checked, blocks * BLOCK);
    assert!(peak < 64 << 20, "{} MiB resident for a 128 KiB window", peak >> 20);
}

fn minilm() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME");
    let path = PathBuf::from(home).join(".cache/haagenti/minilm/model.safetensors");
    assert!(path.is_file(), "{}: fetch it with scripts/fetch-minilm.sh ~/.cache/haagenti/minilm", path.display());
    path
}

fn drain(out: &mut dyn Read) {
    std::io::copy(out, &mut std::io::sink()).unwrap();
}

#[test]
fn a_real_model_streams_both_ways_with_the_reference_cli_in_bounded_memory() {
    let dir = scratch("model");
    let model = minilm();
    // The model is read only after each measured run: a child forked while this process held
    // it would count it as its own resident memory until it execs.
    let z = Command::new("zstd").args(["-q", "-3", "-f"]).arg(&model).arg("-o").arg(dir.join("m.zst")).status();
    assert!(z.expect("the reference zstd program is needed").success());

    let (ok, errors, peak) = run_measured(&["decompress", "m.zst", "-o", "m"], &dir, drain);
    assert!(ok, "{errors}");
    let size = std::fs::metadata(&model).unwrap().len() >> 20;
    assert!(peak < 48 << 20, "decompress: {} MiB resident for a {size} MiB model", peak >> 20);
    assert!(std::fs::read(dir.join("m")).unwrap() == std::fs::read(&model).unwrap(), "decompressed model differs");

    let (ok, errors, peak) = run_measured(&["compress", "-l", "3", "m", "-o", "ours.zst"], &dir, drain);
    assert!(ok, "{errors}");
    assert!(peak < 48 << 20, "compress: {} MiB resident for a {size} MiB model", peak >> 20);
    let back = Command::new("zstd").args(["-q", "-d", "-f", "ours.zst", "-o", "back"]).current_dir(&dir).status();
    assert!(back.unwrap().success(), "the reference CLI refused our frame");
    assert!(std::fs::read(dir.join("back")).unwrap() == std::fs::read(&model).unwrap(), "zstd -d disagrees");

    // Other codecs stream too: gzip through the system's gzip.
    let (ok, errors, peak) = run_measured(&["compress", "--codec", "gzip", "-l", "1", "m", "-o", "m.gz"], &dir, drain);
    assert!(ok, "{errors}");
    assert!(peak < 48 << 20, "gzip compress: {} MiB resident", peak >> 20);
    let back = Command::new("gzip").args(["-dc", "m.gz"]).current_dir(&dir).output().unwrap();
    assert!(back.status.success() && back.stdout == std::fs::read(&model).unwrap(), "gzip disagrees with our stream");
}
