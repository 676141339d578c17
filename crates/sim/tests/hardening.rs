//! Every reader against random bytes and mutated valid files: an error or a valid parse, never a
//! panic. Bounded case counts keep this in `make test`.

use proptest::prelude::*;
use sim::diff::{compare, Source};
use sim::dump::parse_words;
use sim::layout::{self, Hints};
use sim::manifest::Manifest;
use sim::tensor::Dtype;
use std::path::Path;
use std::sync::OnceLock;

/// Files of the golden folders as (case/file, bytes).
type Files = Vec<(String, Vec<u8>)>;

/// A small valid softmax case and a gevm case, written once.
fn golden() -> &'static (tempfile::TempDir, Files) {
    static G: OnceLock<(tempfile::TempDir, Files)> = OnceLock::new();
    G.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        for args in [
            vec!["run", "--kv-size", "35", "--heads", "2", "--head-dim", "4"],
            vec!["op", "gevm", "--m", "40", "--k", "3"],
        ] {
            let st = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
                .args(&args)
                .arg("--out")
                .arg(tmp.path())
                .output()
                .unwrap();
            assert!(st.status.success());
        }
        let mut files = Vec::new();
        for case in ["kv-size-35_seed-0", "gevm_m-40_k-3_seed-0"] {
            for e in std::fs::read_dir(tmp.path().join(case)).unwrap() {
                let e = e.unwrap();
                files.push((
                    format!("{case}/{}", e.file_name().to_string_lossy()),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
        files.sort();
        (tmp, files)
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..80).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = bytes.len().max(1);
        match *m {
            Mutation::FlipBit(i, b) if !bytes.is_empty() => bytes[i % n] ^= 1 << b,
            Mutation::Insert(i, c) => bytes.insert(i % (bytes.len() + 1), c),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Mutation::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
            Mutation::Duplicate(i, len) if !bytes.is_empty() => {
                let s = i % n;
                let chunk: Vec<u8> = bytes[s..(s + len).min(bytes.len())].to_vec();
                bytes.splice(s..s, chunk);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes_never_panic_the_dump_reader(bytes in prop::collection::vec(any::<u8>(), 0..400),
                                                 expected in prop::option::of(0usize..20)) {
        for dtype in [Dtype::Bf16, Dtype::Fp32, Dtype::MxInt8] {
            if let Ok(w) = parse_words(Path::new("x"), &bytes, dtype, expected) {
                prop_assert!(!w.is_empty());
                prop_assert_eq!(w.bytes.len() % (dtype.hex_digits() / 2), 0);
            }
        }
    }

    #[test]
    fn random_text_never_panics_the_manifest_reader(text in ".{0,300}") {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("manifest.json");
        std::fs::write(&p, &text).unwrap();
        let _ = Manifest::read(&p);
    }

    /// Mutate one file of a valid folder, then run every reader on the folder: detect the layout,
    /// diff against the original, check it (recompute from its inputs).
    #[test]
    fn mutated_case_folders_give_errors_or_reports(file in any::<prop::sample::Index>(),
                                                    muts in prop::collection::vec(mutation(), 1..4)) {
        let (gold_dir, files) = golden();
        let (name, _) = &files[file.index(files.len())];
        let case = name.split('/').next().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        for (n, b) in files.iter().filter(|(n, _)| n.starts_with(case)) {
            let target = tmp.path().join(n);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, if n == name { apply(b.clone(), &muts) } else { b.clone() }).unwrap();
        }
        let dir = tmp.path().join(case);
        let gold = gold_dir.path().join(case);
        let hints = Hints { heads: 2, head_dim: 4 };
        if let Ok(Some(l)) = layout::detect(&dir, hints) {
            let _ = compare(&l, &Source::Dir(&gold), &Source::Dir(&dir), 3);
            let _ = compare(&l, &Source::Dir(&dir), &Source::Dir(&gold), 3);
        }
        let o = sim::check::CheckOptions {
            hints,
            element_rounding: hw_types::RoundingMode::NearestAway,
            rounding: hw_types::RoundingMode::NearestEven,
            max_errors: 3,
            config: None,
        };
        let _ = sim::check::check(&dir, &o);
        let p = sim::softmax::Params { heads: 2, head_dim: 4, ..Default::default() };
        if let Ok(inputs) = sim::softmax::Inputs::read(&dir, &p) {
            let _ = sim::softmax::run(inputs, &p);
        }
    }
}

#[test]
fn manifest_sizes_out_of_range_are_clear_errors() {
    let (gold_dir, _) = golden();
    let tmp = tempfile::tempdir().unwrap();
    let m = Manifest::read(&gold_dir.path().join("kv-size-35_seed-0/manifest.json")).unwrap();
    for (kv, heads) in [(0usize, 2u64), (1 << 30, 2), (35, 0), (1 << 24, 1 << 24)] {
        let mut bad = m.clone();
        bad.kv_size = Some(kv);
        bad.params
            .insert("num_heads".into(), serde_json::json!(heads));
        let dir = tmp.path().join(format!("c{kv}-{heads}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("manifest.json"), bad.to_json()).unwrap();
        let e = layout::detect(&dir, Hints::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("manifest.json") && (e.contains("outside") || e.contains("exceed")),
            "{e}"
        );
    }
}
