//! Fuzzing of every parser that reads user files: the JSON hardware description, the manifest
//! (and the layout derived from it), and the dump reader for each word width. cargo-fuzz needs a
//! nightly toolchain this project does not assume, so this is a mutation fuzzer on stable Rust:
//! valid seeds (the built-in profiles, golden/'s manifests and dumps) mutated by bit flips, byte
//! and token insertions (extreme numbers, JSON and `$readmemh` syntax), deletions, truncation and
//! splices of two seeds. Every input must give `Ok` or an error, never a panic; an accepted
//! description must pass `validate`, and accepted dump words must decode.
//!
//! Each target runs for `SIM_FUZZ_SECONDS` (default 2; `make test` runs 30, docs/testing.md has
//! the long runs) from `SIM_FUZZ_SEED` (default: the clock, printed so a failure can be replayed).

use hw_types::MxInt8Block;
use hw_units::config::HwConfig;
use sim::dump::parse_words;
use sim::manifest::Manifest;
use sim::tensor::Dtype;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: small, deterministic, good enough to choose mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: [&str; 26] = [
    "0",
    "-1",
    "4294967295",
    "4294967296",
    "2147483648",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "-0",
    "0.5",
    "null",
    "true",
    "\"fixed\"",
    "\"pow2-lut\"",
    "\"newton\"",
    "{}",
    "[]",
    "\"type\"",
    ":",
    ",",
    "@",
    "//",
    "\r\n",
    "\n",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(b.len() + 1);
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.insert(at, rng.next() as u8),
            2 => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                b.drain(at..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            4 => {
                // Replace a run of digits with an extreme number.
                if let Some(p) = b[at..].iter().position(u8::is_ascii_digit) {
                    let s = at + p;
                    let e = s + b[s..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let t = TOKENS[2 + rng.below(6)].as_bytes();
                    b.splice(s..e, t.iter().copied());
                }
            }
            5 => b.truncate(at),
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
        }
    }
    b
}

/// Run `target` on mutated seeds for the configured time; a panic fails with the input.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, target: impl Fn(&[u8])) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let secs: u64 = std::env::var("SIM_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("SIM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    let mut rng = Rng(seed);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut runs = 0u64;
    for s in &seeds {
        target(s);
    }
    while Instant::now() < end {
        let input = mutate(&mut rng, &seeds);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let path = std::env::temp_dir().join(format!("sim-fuzz-{name}-crash"));
            let _ = std::fs::write(&path, &input);
            panic!(
                "{name}: panic on an input (saved to {}; SIM_FUZZ_SEED={seed})",
                path.display()
            );
        }
        runs += 1;
    }
    eprintln!("fuzz {name}: {runs} inputs in {secs} s, no panic (SIM_FUZZ_SEED={seed})");
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden")
}

/// Files named `name` (or ending in one of `suffixes`) under golden/, small ones only.
fn golden_files(accept: impl Fn(&Path) -> bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![golden()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if accept(&p) && e.metadata().is_ok_and(|m| m.len() < 64 << 10) {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn fuzz_hardware_description() {
    let mut seeds: Vec<Vec<u8>> = HwConfig::PROFILES
        .iter()
        .map(|p| HwConfig::profile(p).unwrap().to_json().into_bytes())
        .collect();
    let mut fixed = HwConfig::narrow();
    fixed.reduce.kind = hw_units::config::AccKind::Fixed {
        int_bits: 16,
        frac_bits: 32,
        overflow: hw_units::config::Overflow::Wrap,
    };
    seeds.push(fixed.to_json().into_bytes());
    fuzz("config", seeds, |b| {
        if let Ok(c) = HwConfig::from_json(&String::from_utf8_lossy(b)) {
            assert_eq!(c.validate(), Ok(()));
            // Building the units is where a width that slipped through would overflow.
            let _ = hw_units::units::Units::new(&c);
        }
    });
}

#[test]
fn fuzz_manifest_and_layout() {
    let seeds = golden_files(|p| p.ends_with("manifest.json"));
    fuzz("manifest", seeds, |b| {
        let text = String::from_utf8_lossy(b);
        if let Ok(m) = Manifest::parse(Path::new("manifest.json"), &text) {
            let _ = sim::layout::from_manifest(&m);
        }
    });
}

fn fuzz_dump(dtype: Dtype, ext: &[&str]) {
    let seeds = golden_files(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        ext.iter().any(|e| name.ends_with(e))
    });
    fuzz(dtype.name(), seeds, |b| {
        let expected = (b.len() % 3 == 0).then_some(b.len() / 7);
        if let Ok(w) = parse_words(Path::new("dump"), b, dtype, expected) {
            assert_eq!(w.bytes.len(), w.len() * w.word_bytes);
            for i in 0..w.len() {
                let _ = w.line(i);
                if dtype == Dtype::MxInt8 {
                    let _ = MxInt8Block::from_word(w.word(i).try_into().unwrap());
                }
            }
        }
    });
}

#[test]
fn fuzz_bf16_dumps() {
    fuzz_dump(Dtype::Bf16, &[".qk_T", ".exp-bf16", ".out", ".inv"]);
}

#[test]
fn fuzz_fp32_dumps() {
    fuzz_dump(Dtype::Fp32, &[".output"]);
}

#[test]
fn fuzz_mxint8_dumps() {
    fuzz_dump(
        Dtype::MxInt8,
        &[".exp_mxint8", ".a", ".b", ".matrix", ".vector"],
    );
}

#[test]
fn fuzz_mx_format_dumps() {
    // Each width once (MXFP8 66 digits like MXINT8, MXFP6 50, MXFP4 34), seeded from golden/mx.
    for name in ["mxfp8-e5m2", "mxfp6-e3m2", "mxfp4-e2m1"] {
        let f = hw_types::MxFormat::from_name(name).unwrap();
        let seeds = golden_files(|p| {
            p.to_string_lossy().contains(name)
                && [
                    ".a", ".b", ".input", ".other", ".output", ".vector", ".matrix",
                ]
                .iter()
                .any(|e| p.to_string_lossy().ends_with(e))
        });
        fuzz(name, seeds, |b| {
            if let Ok(w) = parse_words(Path::new("dump"), b, Dtype::Mx(f), None) {
                for i in 0..w.len() {
                    let blk = sim::dump::unpack_block(w.word(i), f.width);
                    assert_eq!(sim::dump::pack_block(&blk, f.width), w.word(i));
                }
            }
        });
    }
}
