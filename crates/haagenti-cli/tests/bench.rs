//! `haagenti bench adaptive` and `haagenti bench prefetch` on the committed traces, with an
//! asset encoded here from tests/data/images: the output format and the policies' targets.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn haagenti(args: &[&str], dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_haagenti")).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `key=value` fields of a line.
fn field(line: &str, key: &str) -> f64 {
    let v =
        line.split(' ').find_map(|f| f.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("{key} in {line}"));
    v.parse().unwrap_or_else(|_| panic!("{key}={v} in {line}"))
}

#[test]
fn adaptive_bench_on_every_committed_trace() {
    let dir = std::env::temp_dir().join(format!("haagenti-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = root().join("tests/data/images/chelsea.png");
    haagenti(&["holo", "encode", image.to_str().unwrap(), "-o", "cat"], &dir);
    let traces = root().join("tests/data/traces");
    let mut tried = 0;
    for entry in std::fs::read_dir(&traces).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "mahimahi") {
            continue;
        }
        tried += 1;
        let out = haagenti(
            &["bench", "adaptive", "--asset", "cat", "--trace", path.to_str().unwrap(), "--deadline-ms", "1000"],
            &dir,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 8, "{out}");
        let mut page = std::collections::HashMap::new();
        for (line, (scenario, policy)) in lines.iter().zip(
            ["single", "page"].iter().flat_map(|s| ["ours", "fixed", "throughput", "oracle"].map(move |p| (*s, p))),
        ) {
            let prefix = format!("scenario={scenario} policy={policy} first_preview_ms=");
            assert!(line.starts_with(&prefix), "{line}");
            let keys: Vec<&str> = line.split(' ').map(|f| f.split('=').next().unwrap()).collect();
            assert_eq!(keys, ["scenario", "policy", "first_preview_ms", "mean_quality", "over_budget_bytes"], "{line}");
            if scenario == "page" {
                page.insert(policy, field(line, "mean_quality"));
            }
        }
        let (ours, oracle) = (page["ours"], page["oracle"]);
        let name = path.display();
        assert!(ours >= 0.9 * oracle, "{name}: ours {ours} below 90% of the oracle's {oracle}");
        assert!(ours <= oracle + 1e-9, "{name}: ours {ours} above the oracle {oracle}");
        assert!(ours > page["throughput"], "{name}: ours {ours}, throughput {}", page["throughput"]);
        assert!(ours > page["fixed"], "{name}: ours {ours}, fixed {}", page["fixed"]);
    }
    assert!(tried >= 3, "{tried} bandwidth traces in {}", traces.display());
}

#[test]
fn prefetch_bench_reaches_its_targets() {
    let traces = root().join("tests/data/traces");
    for (name, target) in [("model-dense.csv", 0.9), ("model-moe.csv", 0.9), ("gallery.csv", 0.75)] {
        let trace = traces.join(name);
        let out = haagenti(&["bench", "prefetch", "--trace", trace.to_str().unwrap()], &traces);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let keys: Vec<&str> = lines[0].split(' ').map(|f| f.split('=').next().unwrap()).collect();
        assert_eq!(keys, ["hit_rate", "wasted_per_access", "predict_us"], "{out}");
        assert!(lines[1].starts_with("baseline=markov1 hit_rate="), "{out}");
        let (ours, markov) = (field(lines[0], "hit_rate"), field(lines[1], "hit_rate"));
        assert!(ours >= target, "{name}: hit rate {ours} below {target}");
        assert!(ours > markov, "{name}: hit rate {ours}, Markov baseline {markov}");
    }
}
