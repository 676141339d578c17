//! The dump format contract of docs/dump-format.md, byte for byte, and the CLI's case folders.

use hw_types::{Bf16, E8m0, Fp32, MxInt8Block};
use sim::dump::{self, parse_words, read_bf16, read_mxint8};
use sim::manifest::Manifest;
use sim::tensor::{Dtype, DumpRef, MxTensor, Tensor};
use std::path::Path;
use std::process::Command;

#[test]
fn documented_mxint8_line() {
    let mut elems = [0i8; 32];
    elems[0] = 64;
    elems[1] = -16;
    let t = MxTensor {
        shape: vec![2],
        block_axis: 0,
        blocks: vec![MxInt8Block {
            scale: E8m0(0x7f),
            elems,
        }],
    };
    let text = dump::to_bytes(DumpRef::MxInt8(&t));
    assert_eq!(
        text,
        b"7f000000000000000000000000000000000000000000000000000000000000f040\n"
    );
    // Element 31 is the first element after the scale.
    elems = [0; 32];
    elems[31] = -1;
    let t = MxTensor {
        shape: vec![32],
        block_axis: 0,
        blocks: vec![MxInt8Block {
            scale: E8m0(0xff),
            elems,
        }],
    };
    assert_eq!(
        dump::to_bytes(DumpRef::MxInt8(&t)),
        b"ffff000000000000000000000000000000000000000000000000000000000000\
00\n"
    );
}

#[test]
fn bf16_and_fp32_words() {
    let t = Tensor::new(vec![1, 3], vec![Bf16(0x3f80), Bf16(0x000a), Bf16(0xff80)]);
    assert_eq!(dump::to_bytes(DumpRef::Bf16(&t)), b"3f80\n000a\nff80\n");
    let t = Tensor::new(vec![2], vec![Fp32(0x3f80_0000), Fp32(0xabcd_ef01)]);
    assert_eq!(dump::to_bytes(DumpRef::Fp32(&t)), b"3f800000\nabcdef01\n");
}

#[test]
fn large_dump_streams_in_chunks_identically() {
    let data: Vec<Bf16> = (0..200_000u32).map(|i| Bf16(i as u16)).collect();
    let t = Tensor::new(vec![data.len()], data);
    let bytes = dump::to_bytes(DumpRef::Bf16(&t));
    assert_eq!(bytes.len(), 200_000 * 5);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x");
    let w = dump::write(&p, DumpRef::Bf16(&t)).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
    assert_eq!(w.sha256, dump::sha256_hex(&bytes));
    assert_eq!(read_bf16(&p, Some(200_000)).unwrap(), t.data);
}

fn parse_err(text: &[u8], dtype: Dtype, expected: Option<usize>) -> String {
    parse_words(Path::new("f.hex"), text, dtype, expected)
        .unwrap_err()
        .to_string()
}

#[test]
fn reader_rejects_malformed_words_with_file_and_line() {
    assert_eq!(
        parse_err(b"3f80\n3f8\n", Dtype::Bf16, None),
        "f.hex:2: expected 4 hex digits (bf16 word), found 3 characters: \"3f8\""
    );
    let starts = |text: &[u8], dtype, prefix: &str| {
        let e = parse_err(text, dtype, None);
        assert!(e.starts_with(prefix), "{e}");
    };
    starts(
        b"3f80\n3g80\n",
        Dtype::Bf16,
        "f.hex:2: expected only hex digits",
    );
    starts(b"0x3f80\n", Dtype::Bf16, "f.hex:1: expected 4 hex digits");
    starts(b"3f_80\n", Dtype::Bf16, "f.hex:1: expected 4 hex digits");
    starts(b"3f80 3f80\n", Dtype::Bf16, "f.hex:1:");
    starts(b"3f80\n/* c */\n", Dtype::Bf16, "f.hex:2:");
    starts(
        b"3f80\n@5\n3f80\n",
        Dtype::Bf16,
        "f.hex:2: address @5 would skip",
    );
    starts(b"@zz\n", Dtype::Bf16, "f.hex:1: expected a hex address");
    starts(b"3f80\n", Dtype::MxInt8, "f.hex:1: expected 66 hex digits");
    assert_eq!(
        parse_err(b"", Dtype::Bf16, None),
        "f.hex: empty file: no words"
    );
    assert_eq!(
        parse_err(b"// only a comment\n\n", Dtype::Bf16, None),
        "f.hex: empty file: no words"
    );
    assert_eq!(
        parse_err(b"3f80\n3f80\n", Dtype::Bf16, Some(3)),
        "f.hex: expected 3 lines, found 2"
    );
}

#[test]
fn reader_accepts_what_readmemh_accepts_and_keeps_line_numbers() {
    let w = parse_words(Path::new("f"), b"3F80\r\n00aa", Dtype::Bf16, Some(2)).unwrap();
    assert_eq!(w.bytes, vec![0x3f, 0x80, 0x00, 0xaa]);
    assert_eq!((w.line(0), w.line(1)), (1, 2));
    let text = b"// written by $writememh\n@0\n  3f80 // one\n\n\t0001\n@2\nffff\n";
    let w = parse_words(Path::new("f"), text, Dtype::Bf16, Some(3)).unwrap();
    assert_eq!(w.bytes, vec![0x3f, 0x80, 0x00, 0x01, 0xff, 0xff]);
    assert_eq!((w.line(0), w.line(1), w.line(2)), (3, 5, 7));
}

#[test]
fn sim_run_writes_exactly_the_dataset_files_with_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--kv-size", "33", "--seed", "7", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kv-size-33_seed-7"), "{stdout}");
    let dir = tmp.path().join("kv-size-33_seed-7");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "manifest.json",
            "softmaxed_v.exp-bf16",
            "softmaxed_v.exp_mxint8",
            "softmaxed_v.exp_sum",
            "softmaxed_v.inv",
            "softmaxed_v.out",
            "softmaxed_v.qk_T",
            "softmaxed_v.scaled_v",
            "softmaxed_v.v",
        ]
    );
    // Nothing else (no temp folder) is left in the output folder.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    let m = Manifest::read(&dir.join("manifest.json")).unwrap();
    assert_eq!(
        (m.op.as_str(), m.kv_size, m.seed),
        ("softmax_v", Some(33), Some(7))
    );
    let lines = |n: &str| m.files[n].lines;
    assert_eq!(lines("softmaxed_v.qk_T"), 32 * 33);
    assert_eq!(lines("softmaxed_v.v"), 32 * 2 * 128);
    assert_eq!(lines("softmaxed_v.exp_mxint8"), 32 * 2);
    assert_eq!(lines("softmaxed_v.out"), 32 * 128);
    assert_eq!(m.files["softmaxed_v.v"].shape, vec![1, 32, 33, 128]);
    assert_eq!(m.files["softmaxed_v.v"].block_axis, Some(2));
    assert_eq!(m.files["softmaxed_v.exp_mxint8"].block_axis, Some(3));
    for (name, f) in &m.files {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(f.sha256, dump::sha256_hex(&bytes), "{name}");
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), f.lines);
        let digits = Dtype::from_name(&f.dtype).unwrap().hex_digits();
        assert!(bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .all(|l| l.len() == digits
                && l.iter()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))));
    }
    // Re-running replaces the case atomically and reproduces it byte for byte.
    let before = std::fs::read(dir.join("softmaxed_v.out")).unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--kv-size", "33", "--seed", "7", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read(dir.join("softmaxed_v.out")).unwrap(), before);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    // --inputs recomputes the same stages from the folder's own inputs.
    let re = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--inputs"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("re"))
        .output()
        .unwrap();
    assert!(
        re.status.success(),
        "{}",
        String::from_utf8_lossy(&re.stderr)
    );
    for f in sim::softmax::FILES {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(tmp.path().join("re/kv-size-33_seed-7").join(f)).unwrap(),
            "{f}"
        );
    }
    let blocks = read_mxint8(&dir.join("softmaxed_v.v"), Some(32 * 2 * 128)).unwrap();
    assert_eq!(blocks.len(), 8192);
}

#[test]
fn bad_inputs_exit_2_with_a_clear_message_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("case");
    std::fs::create_dir(&case).unwrap();
    std::fs::write(
        case.join("softmaxed_v.qk_T"),
        "3f80\n".repeat(32 * 3) + "zz80\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--inputs"])
        .arg(&case)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("softmaxed_v.qk_T:97: expected only hex digits"),
        "{err}"
    );
    assert!(
        !tmp.path().join("out").exists()
            || std::fs::read_dir(tmp.path().join("out")).unwrap().count() == 0
    );
    // A line count that fits no shape.
    std::fs::write(case.join("softmaxed_v.qk_T"), "3f80\n".repeat(33)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--inputs"])
        .arg(&case)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("33 lines do not fit the shape [1, 32, 1, kv]"));
}

#[test]
fn nonzero_padding_is_rejected_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("gevm.matrix");
    // [40, 2] blocked on axis 0: grid [2, 2]; lines 3 and 4 are the partial blocks (8 valid).
    let mut blocks = vec![MxInt8Block::ZERO; 4];
    blocks[3].elems[8] = 5;
    let t = MxTensor {
        shape: vec![40, 2],
        block_axis: 0,
        blocks,
    };
    dump::write(&p, DumpRef::MxInt8(&t)).unwrap();
    let err = sim::dump::read_mx_tensor(&p, vec![40, 2], 0).unwrap_err();
    assert_eq!(err.line, 4);
    assert!(
        err.msg
            .contains("element 8 lies past the logical length 40"),
        "{err}"
    );
    // The same grid read as [64, 2] has no padding and is fine.
    assert!(sim::dump::read_mx_tensor(&p, vec![64, 2], 0).is_ok());
}

#[test]
fn binary_encoding_is_little_endian_scale_first() {
    let tmp = tempfile::tempdir().unwrap();
    let mut elems = [0i8; 32];
    elems[0] = 64;
    elems[31] = -2;
    let t = MxTensor {
        shape: vec![32],
        block_axis: 0,
        blocks: vec![MxInt8Block {
            scale: E8m0(0x7f),
            elems,
        }],
    };
    let p = tmp.path().join("v.bin");
    let w = dump::write_bin(&p, DumpRef::MxInt8(&t)).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.len(), 33);
    assert_eq!((bytes[0], bytes[1], bytes[32]), (0x7f, 64, 0xfe));
    assert_eq!(w.sha256, dump::sha256_hex(&bytes));
    let t = Tensor::new(vec![2], vec![Bf16(0x3f80), Bf16(0x0102)]);
    dump::write_bin(&p, DumpRef::Bf16(&t)).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), [0x80, 0x3f, 0x02, 0x01]);
}
