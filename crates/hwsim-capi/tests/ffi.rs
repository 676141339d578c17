//! The C entry points called from Rust: they agree with the units and pipelines `sim` runs, and
//! bad arguments are errors that name the argument and leave the outputs alone.

use hw_types::{
    Bf16, E8m0, FlagCounts, Fp32, MxBlock, MxInt8Block, RoundingMode, ScaleRule, Status, MX_FORMATS,
};
use hw_units::config::HwConfig;
use hw_units::units::Units;
use hwsim::*;
use sim::dump::{read_bf16, read_fp32, read_mx_codes, to_bytes};
use sim::manifest::Manifest;
use sim::ops::{Dims, OpCase, OpKind, OutDtype, OutTensor};
use sim::softmax::{run_with, Inputs, Params};
use sim::tensor::{DumpRef, MxCodes};
use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

/// An open context, closed on drop.
struct Ctx(*mut Context);

impl Ctx {
    fn open(arg: &str) -> Ctx {
        let c = CString::new(arg).unwrap();
        // SAFETY: a NUL-terminated string.
        let p = unsafe { hwsim_open(c.as_ptr()) };
        assert!(!p.is_null(), "hwsim_open({arg}): {}", last_error());
        Ctx(p)
    }
    fn ptr(&self) -> *const Context {
        self.0
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: opened by Ctx::open, closed once.
        unsafe { hwsim_close(self.0) }
    }
}

fn last_error() -> String {
    // SAFETY: hwsim_last_error returns a NUL-terminated string, copied at once.
    unsafe { CStr::from_ptr(hwsim_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// hwsim_open's error for `arg`.
fn open_error(arg: &CStr) -> String {
    // SAFETY: a NUL-terminated string.
    let p = unsafe { hwsim_open(arg.as_ptr()) };
    assert!(p.is_null(), "{arg:?} opened");
    last_error()
}

#[test]
fn codes_are_the_status_bits_and_rounding_modes() {
    assert_eq!(HWSIM_FLAG_INEXACT, Status::INEXACT.bits() as u32);
    assert_eq!(HWSIM_FLAG_UNDERFLOW, Status::UNDERFLOW.bits() as u32);
    assert_eq!(HWSIM_FLAG_OVERFLOW, Status::OVERFLOW.bits() as u32);
    assert_eq!(HWSIM_FLAG_DIV_BY_ZERO, Status::DIV_BY_ZERO.bits() as u32);
    assert_eq!(HWSIM_FLAG_INVALID, Status::INVALID.bits() as u32);
    assert_eq!(HWSIM_FLAG_ERROR & 0xff, 0, "the error bit is no IEEE flag");
    assert_eq!(
        Status::from_bits(0xff).bits(),
        0x1f,
        "the IEEE flags fit in bits 0..=4"
    );
    let codes = [
        (HWSIM_ROUND_NEAREST_EVEN, "nearest-even"),
        (HWSIM_ROUND_NEAREST_AWAY, "nearest-away"),
        (HWSIM_ROUND_TOWARD_ZERO, "toward-zero"),
        (HWSIM_ROUND_TOWARD_POS, "toward-pos"),
        (HWSIM_ROUND_TOWARD_NEG, "toward-neg"),
    ];
    for (code, name) in codes {
        assert_eq!(RoundingMode::ALL[code as usize].name(), name);
    }
    // SAFETY: static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(hwsim_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn open_accepts_profiles_and_config_files_and_names_what_is_wrong() {
    for p in ["reference", "narrow"] {
        let ctx = Ctx::open(p);
        // SAFETY: an open context; the name lives as long as it.
        let name = unsafe { CStr::from_ptr(hwsim_config_name(ctx.ptr())) };
        assert_eq!(name.to_str().unwrap(), p);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HwConfig::narrow();
    cfg.name = "my-datapath".into();
    let good = dir.path().join("good.json");
    std::fs::write(&good, cfg.to_json()).unwrap();
    let ctx = Ctx::open(good.to_str().unwrap());
    // SAFETY: as above.
    let name = unsafe { CStr::from_ptr(hwsim_config_name(ctx.ptr())) };
    assert_eq!(name.to_str().unwrap(), "my-datapath");

    let e = open_error(c"wide");
    assert!(e.starts_with("hwsim_open: profile_or_config 'wide' is neither a profile (reference, narrow) nor a readable config file"), "{e}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"name\": \"x\"}").unwrap();
    let e = open_error(&CString::new(bad.to_str().unwrap()).unwrap());
    assert!(
        e.contains("config file") && e.contains("missing field"),
        "{e}"
    );
    let invalid = dir.path().join("invalid.json");
    let mut cfg = HwConfig::reference();
    cfg.mac.block_lanes = 3;
    std::fs::write(&invalid, cfg.to_json()).unwrap();
    let e = open_error(&CString::new(invalid.to_str().unwrap()).unwrap());
    assert!(e.contains("mac.block_lanes must divide 32"), "{e}");
    // SAFETY: NULL is an accepted argument (an error).
    assert!(unsafe { hwsim_open(null()) }.is_null());
    assert_eq!(last_error(), "hwsim_open: profile_or_config is NULL");
    // SAFETY: NULL is ignored.
    unsafe { hwsim_close(null_mut()) };
}

/// hwsim_open's error for `path`, which must come within a second.
fn open_error_at_once(path: &std::path::Path) -> String {
    let t0 = std::time::Instant::now();
    let e = open_error(&CString::new(path.to_str().unwrap()).unwrap());
    let took = t0.elapsed();
    assert!(
        took < std::time::Duration::from_secs(1),
        "{}: {took:?}",
        path.display()
    );
    e
}

#[test]
fn open_refuses_devices_fifos_directories_and_huge_files_at_once() {
    let e = open_error_at_once(std::path::Path::new("/dev/zero"));
    assert!(
        e.starts_with("hwsim_open: profile_or_config: config file /dev/zero: ")
            && e.contains("character device, not a regular file"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let e = open_error_at_once(dir.path());
    assert!(
        e.starts_with("hwsim_open: profile_or_config: config file")
            && e.ends_with("is a directory, not a regular file"),
        "{e}"
    );
    // A FIFO with no writer: opening it for reading would block forever.
    let fifo = dir.path().join("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let f = fifo.clone();
    std::thread::spawn(move || tx.send(open_error_at_once(&f)).unwrap());
    let e = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("hwsim_open on a FIFO returns");
    assert!(e.ends_with("is a FIFO, not a regular file"), "{e}");
    // 2 GB of holes: refused from its size, nothing read.
    let sparse = dir.path().join("sparse.json");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let e = open_error_at_once(&sparse);
    assert!(
        e.contains("is 2147483648 bytes, over the 1048576-byte limit"),
        "{e}"
    );
    // A config padded with whitespace, well under the limit, is read and opens.
    let padded = dir.path().join("padded.json");
    let mut text = HwConfig::reference().to_json();
    text.push_str(&" ".repeat(1000));
    std::fs::write(&padded, text).unwrap();
    let ctx = Ctx::open(padded.to_str().unwrap());
    drop(ctx);
}

#[test]
fn scalar_units_are_the_contexts_units_for_every_input() {
    for p in ["reference", "narrow"] {
        let ctx = Ctx::open(p);
        let units = Units::new(&HwConfig::profile(p).unwrap());
        for x in 0..=u16::MAX {
            let (mut fe, mut fr) = (0u32, 0u32);
            // SAFETY: an open context and valid flag words.
            let (e, r) = unsafe {
                (
                    hwsim_exp_bf16(ctx.ptr(), x, &mut fe),
                    hwsim_recip_bf16(ctx.ptr(), x, &mut fr),
                )
            };
            let want_e = units.exp.eval(Bf16(x));
            let want_r = units.recip.eval(Bf16(x));
            assert_eq!(
                (e, fe),
                (want_e.value.0, want_e.status.bits() as u32),
                "{p} exp {x:#06x}"
            );
            assert_eq!(
                (r, fr),
                (want_r.value.0, want_r.status.bits() as u32),
                "{p} recip {x:#06x}"
            );
        }
        for (a, b) in [
            (0x3f80u16, 0x4040u16),
            (0x7f80, 0),
            (0x0001, 0x3f00),
            (0x7f7f, 0x4000),
        ] {
            let mut f = 0;
            // SAFETY: as above.
            let y = unsafe { hwsim_mul_bf16(ctx.ptr(), a, b, &mut f) };
            let want = units.mul(Bf16(a), Bf16(b));
            assert_eq!((y, f), (want.value.0, want.status.bits() as u32));
        }
        // 257 ones: exactly 257, RNE to 256 in the reference (docs/numerics.md §3.2).
        let row = vec![0x3f80u16; 257];
        let mut f = 0;
        // SAFETY: `row` holds 257 elements.
        let s = unsafe { hwsim_sum_bf16(ctx.ptr(), row.as_ptr(), row.len(), &mut f) };
        let want = units.reduce_sum(&vec![Bf16(0x3f80); 257]);
        assert_eq!((s, f), (want.value.0, want.status.bits() as u32));
        if p == "reference" {
            assert_eq!(s, 0x4380);
        }
    }
}

#[test]
fn scalar_errors_return_nan_with_the_error_flag() {
    let mut f = 0;
    // SAFETY: NULL context and NULL row are accepted arguments (errors).
    unsafe {
        assert_eq!(hwsim_exp_bf16(null(), 0x3f80, &mut f), 0x7fc0);
        assert_eq!(f, HWSIM_FLAG_ERROR);
        assert!(last_error().starts_with("hwsim_exp_bf16: ctx is NULL"));
        let ctx = Ctx::open("reference");
        assert_eq!(hwsim_sum_bf16(ctx.ptr(), null(), 3, &mut f), 0x7fc0);
        assert_eq!(
            (f, last_error().as_str()),
            (HWSIM_FLAG_ERROR, "hwsim_sum_bf16: x is NULL")
        );
        // n = 0 is an error as every zero size is (docs/dpi.md), with or without an array.
        let one = [0x3f80u16];
        for x in [null(), one.as_ptr()] {
            f = 0;
            assert_eq!(hwsim_sum_bf16(ctx.ptr(), x, 0, &mut f), 0x7fc0);
            assert_eq!(
                (f, last_error().as_str()),
                (
                    HWSIM_FLAG_ERROR,
                    "hwsim_sum_bf16: n is 0 (must be at least 1)"
                )
            );
        }
        assert_eq!(hwsim_sum_bf16(ctx.ptr(), one.as_ptr(), 1, &mut f), 0x3f80);
        assert_eq!(f, 0);
    }
}

#[test]
fn error_count_counts_the_failures_of_this_thread() {
    let ctx = Ctx::open("reference");
    let n = hwsim_error_count();
    // SAFETY: an open context; NULL arguments are accepted (errors).
    unsafe {
        hwsim_exp_bf16(ctx.ptr(), 0, null_mut());
        assert_eq!(hwsim_error_count(), n, "a success is no failure");
        hwsim_exp_bf16(null(), 0, null_mut());
        assert_eq!(hwsim_error_count(), n + 1);
        assert_eq!(
            hwsim_quantize_mxint8(ctx.ptr(), null(), 1, null_mut(), null_mut()),
            HWSIM_ERR_INVALID_ARGUMENT
        );
        assert_eq!(hwsim_error_count(), n + 2);
    }
    std::thread::spawn(|| assert_eq!(hwsim_error_count(), 0))
        .join()
        .unwrap();
}

fn flat(blocks: &[MxInt8Block]) -> (Vec<u8>, Vec<i8>) {
    (
        blocks.iter().map(|b| b.scale.0).collect(),
        blocks.iter().flat_map(|b| b.elems).collect(),
    )
}

#[test]
fn quantize_is_the_quantizer_and_rejects_long_blocks() {
    let ctx = Ctx::open("reference");
    // [1.0, 1/128, 1.9921875]: the tie of 1/128 and the clamp of 0x3fff (docs/numerics.md §4).
    let x = [0x3f80u16, 0x3c00, 0x3fff];
    for (code, mode) in [
        (HWSIM_ROUND_NEAREST_AWAY, RoundingMode::NearestAway),
        (HWSIM_ROUND_NEAREST_EVEN, RoundingMode::NearestEven),
    ] {
        let (mut scale, mut q, mut f) = (0u8, [0i8; 32], 0u32);
        // SAFETY: x has 3 elements, q 32.
        let rc = unsafe {
            hwsim_quantize_mxint8_ex(
                ctx.ptr(),
                x.as_ptr(),
                3,
                code,
                &mut scale,
                q.as_mut_ptr(),
                &mut f,
            )
        };
        assert_eq!(rc, HWSIM_OK);
        let vals: Vec<_> = x.iter().map(|&b| Bf16(b).to_fp32()).collect();
        let want = MxInt8Block::quantize(&vals, mode);
        assert_eq!(
            (scale, q, f),
            (
                want.value.scale.0,
                want.value.elems,
                want.status.bits() as u32
            )
        );
        assert_eq!(
            q[1],
            if code == HWSIM_ROUND_NEAREST_AWAY {
                1
            } else {
                0
            }
        );
        assert_eq!(q[2], 127);
    }
    let (mut scale, mut q) = (0xaau8, [5i8; 32]);
    let long = [0x3f80u16; 33];
    // SAFETY: `long` has 33 elements, q 32.
    unsafe {
        let rc = hwsim_quantize_mxint8(ctx.ptr(), long.as_ptr(), 33, &mut scale, q.as_mut_ptr());
        assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            "hwsim_quantize_mxint8: n = 33 is more than one block (32 elements)"
        );
        let rc = hwsim_quantize_mxint8(ctx.ptr(), long.as_ptr(), 4, &mut scale, null_mut());
        assert_eq!(
            (rc, last_error().as_str()),
            (
                HWSIM_ERR_INVALID_ARGUMENT,
                "hwsim_quantize_mxint8: q is NULL"
            )
        );
        let rc = hwsim_quantize_mxint8_ex(
            ctx.ptr(),
            long.as_ptr(),
            4,
            HWSIM_ROUND_TOWARD_ZERO,
            &mut scale,
            q.as_mut_ptr(),
            null_mut(),
        );
        assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("element_rounding = 2"));
    }
    // n = 0 is an error in both, with or without x_bf16 (docs/dpi.md: zero sizes and NULL arrays).
    // SAFETY: `long` has 33 elements, q 32; NULL is an accepted argument (an error).
    unsafe {
        for x in [null(), long.as_ptr()] {
            let rc = hwsim_quantize_mxint8(ctx.ptr(), x, 0, &mut scale, q.as_mut_ptr());
            assert_eq!(
                (rc, last_error().as_str()),
                (
                    HWSIM_ERR_INVALID_ARGUMENT,
                    "hwsim_quantize_mxint8: n is 0 (must be at least 1)"
                )
            );
            let rc = hwsim_quantize_mxint8_ex(
                ctx.ptr(),
                x,
                0,
                HWSIM_ROUND_NEAREST_EVEN,
                &mut scale,
                q.as_mut_ptr(),
                null_mut(),
            );
            assert_eq!(
                (rc, last_error().as_str()),
                (
                    HWSIM_ERR_INVALID_ARGUMENT,
                    "hwsim_quantize_mxint8_ex: n is 0 (must be at least 1)"
                )
            );
        }
        let rc = hwsim_quantize_mxint8_ex(
            ctx.ptr(),
            null(),
            5,
            HWSIM_ROUND_NEAREST_EVEN,
            &mut scale,
            q.as_mut_ptr(),
            null_mut(),
        );
        assert_eq!(
            (rc, last_error().as_str()),
            (
                HWSIM_ERR_INVALID_ARGUMENT,
                "hwsim_quantize_mxint8_ex: x_bf16 is NULL"
            )
        );
    }
    assert_eq!((scale, q), (0xaa, [5; 32]), "a failed call wrote an output");
}

/// `sim op`'s result for a generated case, through the C entry point of its op.
fn op_via_c(ctx: &Ctx, case: &OpCase, dtype: OutDtype, rounding: u32) -> (Vec<u32>, Vec<u32>) {
    let Dims { m, k, n } = case.dims;
    let (sa, ea) = flat(&case.operands[0].blocks);
    let (sb, eb) = flat(&case.operands[1].blocks);
    let outputs = match case.op {
        OpKind::Dot => 1,
        OpKind::Gevm => k,
        OpKind::Gemm => m * n,
    };
    let mut flags = vec![0u32; outputs];
    let (a, b) = ((sa.as_ptr(), ea.as_ptr()), (sb.as_ptr(), eb.as_ptr()));
    let f = flags.as_mut_ptr();
    let c = ctx.ptr();
    let out: Vec<u32> = match dtype {
        OutDtype::Bf16 => {
            let mut o = vec![0u16; outputs];
            let p = o.as_mut_ptr();
            // SAFETY: the operands and outputs have the documented lengths.
            let rc = unsafe {
                match case.op {
                    OpKind::Dot => hwsim_dot_mxint8_bf16(c, m, a.0, a.1, b.0, b.1, rounding, p, f),
                    OpKind::Gevm => {
                        hwsim_gevm_mxint8_bf16(c, m, k, a.0, a.1, b.0, b.1, rounding, p, f)
                    }
                    OpKind::Gemm => {
                        hwsim_gemm_mxint8_bf16(c, m, k, n, a.0, a.1, b.0, b.1, rounding, p, f)
                    }
                }
            };
            assert_eq!(rc, HWSIM_OK, "{}", last_error());
            o.into_iter().map(u32::from).collect()
        }
        OutDtype::Fp32 => {
            let mut o = vec![0u32; outputs];
            let p = o.as_mut_ptr();
            // SAFETY: as above.
            let rc = unsafe {
                match case.op {
                    OpKind::Dot => hwsim_dot_mxint8_fp32(c, m, a.0, a.1, b.0, b.1, rounding, p, f),
                    OpKind::Gevm => {
                        hwsim_gevm_mxint8_fp32(c, m, k, a.0, a.1, b.0, b.1, rounding, p, f)
                    }
                    OpKind::Gemm => {
                        hwsim_gemm_mxint8_fp32(c, m, k, n, a.0, a.1, b.0, b.1, rounding, p, f)
                    }
                }
            };
            assert_eq!(rc, HWSIM_OK, "{}", last_error());
            o
        }
    };
    (out, flags)
}

#[test]
fn block_products_are_sim_ops() {
    let ctx = Ctx::open("reference");
    let cases = [
        (OpKind::Dot, Dims { m: 33, k: 1, n: 1 }),
        (OpKind::Gevm, Dims { m: 70, k: 9, n: 1 }),
        (OpKind::Gemm, Dims { m: 5, k: 33, n: 7 }),
        (OpKind::Gemm, Dims { m: 16, k: 64, n: 9 }),
    ];
    for (seed, (op, dims)) in cases.into_iter().enumerate() {
        let case = OpCase::generate(op, dims, seed as u64);
        for (code, mode) in RoundingMode::ALL.into_iter().enumerate() {
            for dtype in [OutDtype::Bf16, OutDtype::Fp32] {
                let want = case.compute(dtype, mode);
                let want_bits: Vec<u32> = match &want.tensor {
                    OutTensor::Bf16(t) => t.data.iter().map(|x| x.0 as u32).collect(),
                    OutTensor::Fp32(t) => t.data.iter().map(|x| x.0).collect(),
                };
                let want_flags: Vec<u32> = want.flags.iter().map(|s| s.bits() as u32).collect();
                let got = op_via_c(&ctx, &case, dtype, code as u32);
                assert_eq!(
                    got,
                    (want_bits, want_flags),
                    "{op:?} {dims:?} {mode} {dtype:?}"
                );
            }
        }
    }
}

#[test]
fn block_products_reject_bad_operands() {
    let ctx = Ctx::open("reference");
    let case = OpCase::generate(OpKind::Gemm, Dims { m: 2, k: 40, n: 3 }, 0);
    let (sa, mut ea) = flat(&case.operands[0].blocks);
    let (sb, eb) = flat(&case.operands[1].blocks);
    let mut out = [0xbeefu16; 6];
    let c = ctx.ptr();
    // SAFETY: every array has its documented length, or the call must fail before reading it.
    unsafe {
        let mut call = |m, k, n, ea: *const i8, rounding| {
            hwsim_gemm_mxint8_bf16(
                c,
                m,
                k,
                n,
                sa.as_ptr(),
                ea,
                sb.as_ptr(),
                eb.as_ptr(),
                rounding,
                out.as_mut_ptr(),
                null_mut(),
            )
        };
        assert_eq!(call(2, 0, 3, ea.as_ptr(), 0), HWSIM_ERR_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            "hwsim_gemm_mxint8_bf16: k is 0 (must be at least 1)"
        );
        assert_eq!(call(2, 40, 3, null(), 0), HWSIM_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "hwsim_gemm_mxint8_bf16: input_elems is NULL");
        assert_eq!(call(2, 40, 3, ea.as_ptr(), 7), HWSIM_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("rounding = 7 is not a rounding code"));
        assert_eq!(
            call(usize::MAX / 2, 40, 3, ea.as_ptr(), 0),
            HWSIM_ERR_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains("overflows size_t"),
            "{}",
            last_error()
        );
        // k = 40: the second block of each row of `input` holds 8 values, 24 padding.
        ea[32 + 8 + 3] = 1;
        assert_eq!(call(2, 40, 3, ea.as_ptr(), 0), HWSIM_ERR_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            "hwsim_gemm_mxint8_bf16: input_elems: block 1 has a nonzero padding element 11 (k index 43 is past k = 40); padding must be zero"
        );
    }
    assert_eq!(out, [0xbeef; 6], "a failed call wrote an output");
}

/// Every output of hwsim_softmax_v_ex, as vectors.
#[derive(Debug, PartialEq, Eq)]
struct SoftmaxOut {
    exp: Vec<u16>,
    exp_sum: Vec<u16>,
    exp_scales: Vec<u8>,
    exp_elems: Vec<i8>,
    scaled_v: Vec<u16>,
    inv: Vec<u16>,
    out: Vec<u16>,
    flags: [u32; HWSIM_SOFTMAX_STAGES],
}

fn softmax_via_c(ctx: &Ctx, inputs: &Inputs, p: &Params) -> SoftmaxOut {
    let (h, kv, d) = (p.heads, inputs.kv_size(), p.head_dim);
    let nb = kv.div_ceil(32);
    let qk: Vec<u16> = inputs.qk_t.data.iter().map(|x| x.0).collect();
    let (vs, ve) = flat(&inputs.v.int8().expect("mxint8 v").blocks);
    let mut o = SoftmaxOut {
        exp: vec![0; h * kv],
        exp_sum: vec![0; h],
        exp_scales: vec![0; h * nb],
        exp_elems: vec![0; h * nb * 32],
        scaled_v: vec![0; h * d],
        inv: vec![0; h],
        out: vec![0; h * d],
        flags: [0; HWSIM_SOFTMAX_STAGES],
    };
    let er = if p.element_rounding == Some(RoundingMode::NearestEven) {
        HWSIM_ROUND_NEAREST_EVEN
    } else {
        HWSIM_ROUND_NEAREST_AWAY
    };
    // SAFETY: every array has its documented length.
    let rc = unsafe {
        hwsim_softmax_v_ex(
            ctx.ptr(),
            h,
            kv,
            d,
            er,
            qk.as_ptr(),
            vs.as_ptr(),
            ve.as_ptr(),
            o.exp.as_mut_ptr(),
            o.exp_sum.as_mut_ptr(),
            o.exp_scales.as_mut_ptr(),
            o.exp_elems.as_mut_ptr(),
            o.scaled_v.as_mut_ptr(),
            o.inv.as_mut_ptr(),
            o.out.as_mut_ptr(),
            o.flags.as_mut_ptr(),
        )
    };
    assert_eq!(rc, HWSIM_OK, "{}", last_error());
    o
}

#[test]
fn softmax_v_is_sim_run() {
    let specials = [
        0x7fc0u16, 0x7f80, 0xff80, 0x42b2, 0x42b1, 0xc2ba, 0x0001, 0x8000, 0xffff,
    ];
    for (profile, kv, seed, rounding) in [
        ("reference", 1, 3, RoundingMode::NearestAway),
        ("reference", 33, 0, RoundingMode::NearestAway),
        ("reference", 100, 1, RoundingMode::NearestEven),
        ("narrow", 70, 2, RoundingMode::NearestAway),
    ] {
        let ctx = Ctx::open(profile);
        let units = Units::new(&HwConfig::profile(profile).unwrap());
        let p = Params {
            heads: 3,
            head_dim: 40,
            element_rounding: Some(rounding),
            ..Default::default()
        };
        let mut inputs = Inputs::generate(kv, seed, &p);
        // Specials in the first head: NaN, infinities, the exp overflow boundary, subnormals.
        for (x, &s) in inputs.qk_t.data.iter_mut().zip(&specials) {
            *x = Bf16(s);
        }
        let got = softmax_via_c(&ctx, &inputs, &p);
        let s = run_with(inputs, &p, &units);
        let b = |t: &sim::tensor::Tensor<Bf16>| t.data.iter().map(|x| x.0).collect::<Vec<_>>();
        let any = |v: &[Status]| v.iter().fold(Status::OK, |a, &x| a | x).bits() as u32;
        let (es, ee) = flat(&s.exp_mx.int8().expect("mxint8 exp").blocks);
        let want = SoftmaxOut {
            exp: b(&s.exp),
            exp_sum: b(&s.exp_sum),
            exp_scales: es,
            exp_elems: ee,
            scaled_v: b(&s.scaled_v),
            inv: b(&s.inv),
            out: b(&s.out),
            flags: [
                any(&s.flags.exp),
                any(&s.flags.exp_sum),
                any(&s.flags.exp_mx),
                any(&s.flags.scaled_v),
                any(&s.flags.inv),
                any(&s.flags.out),
            ],
        };
        assert_eq!(got, want, "{profile} kv {kv}");
        // 0x42b2 (89.0) is the first score whose e^x overflows, when the case is big enough.
        if kv * p.heads >= specials.len() {
            assert_ne!(got.flags[HWSIM_STAGE_EXP] & HWSIM_FLAG_OVERFLOW, 0);
        }
    }
}

#[test]
fn softmax_v_rejects_bad_sizes_and_pointers() {
    let ctx = Ctx::open("reference");
    let p = Params {
        heads: 2,
        head_dim: 8,
        element_rounding: Some(RoundingMode::NearestAway),
        ..Default::default()
    };
    let inputs = Inputs::generate(40, 0, &p);
    let qk: Vec<u16> = inputs.qk_t.data.iter().map(|x| x.0).collect();
    let (vs, mut ve) = flat(&inputs.v.int8().expect("mxint8 v").blocks);
    let mut out = vec![0x1234u16; 16];
    let mut flags = [7u32; HWSIM_SOFTMAX_STAGES];
    let c = ctx.ptr();
    // SAFETY: every array has its documented length, or the call must fail before using it.
    let mut call = |h: usize, kv: usize, d: usize, qk: *const u16, ve: *const i8| unsafe {
        hwsim_softmax_v(
            c,
            h,
            kv,
            d,
            qk,
            vs.as_ptr(),
            ve,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            out.as_mut_ptr(),
            flags.as_mut_ptr(),
        )
    };
    let cases: [(usize, usize, usize, bool, &str); 5] = [
        (
            2,
            0,
            8,
            true,
            "hwsim_softmax_v: kv is 0 (must be at least 1)",
        ),
        (
            0,
            40,
            8,
            true,
            "hwsim_softmax_v: heads is 0 (must be at least 1)",
        ),
        (2, 40, 8, false, "hwsim_softmax_v: qk_t is NULL"),
        (
            1 << 40,
            1 << 30,
            8,
            true,
            "hwsim_softmax_v: heads x kv = 1099511627776 x 1073741824 overflows size_t",
        ),
        (2, usize::MAX, 8, true, "overflows size_t"),
    ];
    for (h, kv, d, with_qk, msg) in cases {
        let qp = if with_qk { qk.as_ptr() } else { null() };
        assert_eq!(call(h, kv, d, qp, ve.as_ptr()), HWSIM_ERR_INVALID_ARGUMENT);
        assert!(
            last_error().contains(msg),
            "{} does not contain {msg}",
            last_error()
        );
    }
    // kv 40: the second block of each (head, column) has 8 values and 24 zero padding elements.
    // Block (head 0, block 1, column 5) is grid index (0 * 2 + 1) * 8 + 5 = 13.
    ve[13 * 32 + 30] = -1;
    assert_eq!(
        call(2, 40, 8, qk.as_ptr(), ve.as_ptr()),
        HWSIM_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        last_error(),
        "hwsim_softmax_v: v_elems: block 13 has a nonzero padding element 30 (kv index 62 is past kv = 40); padding must be zero"
    );
    assert_eq!(out, vec![0x1234; 16], "a failed call wrote an output");
    assert_eq!(flags, [7; HWSIM_SOFTMAX_STAGES]);
    // SAFETY: NULL context is an accepted argument (an error).
    let rc = unsafe {
        hwsim_softmax_v(
            null(),
            2,
            40,
            8,
            qk.as_ptr(),
            vs.as_ptr(),
            ve.as_ptr(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
    assert!(last_error().starts_with("hwsim_softmax_v: ctx is NULL"));
    // The _ex variant names itself in every message.
    // SAFETY: as above; the call fails before reading anything.
    let rc = unsafe {
        hwsim_softmax_v_ex(
            ctx.ptr(),
            2,
            0,
            8,
            HWSIM_ROUND_NEAREST_EVEN,
            qk.as_ptr(),
            vs.as_ptr(),
            ve.as_ptr(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
    assert_eq!(
        last_error(),
        "hwsim_softmax_v_ex: kv is 0 (must be at least 1)"
    );
    ve[13 * 32 + 30] = 0;
    // SAFETY: as above.
    let rc = unsafe {
        hwsim_softmax_v_ex(
            ctx.ptr(),
            2,
            40,
            8,
            9,
            qk.as_ptr(),
            vs.as_ptr(),
            ve.as_ptr(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().starts_with("hwsim_softmax_v_ex: element_rounding = 9"),
        "{}",
        last_error()
    );
}

#[test]
fn one_context_serves_many_threads() {
    let ctx = Ctx::open("reference");
    let addr = ctx.ptr() as usize;
    let units = Units::new(&HwConfig::reference());
    std::thread::scope(|s| {
        for t in 0..4u16 {
            let units = &units;
            s.spawn(move || {
                let c = addr as *const Context;
                for x in (t..=u16::MAX).step_by(4) {
                    // SAFETY: the context stays open until the scope ends.
                    let y = unsafe { hwsim_exp_bf16(c, x, null_mut()) };
                    assert_eq!(y, units.exp.eval(Bf16(x)).value.0);
                }
            });
        }
    });
}

/// `setrlimit(RLIMIT_AS)`, declared here so the tests need no libc crate (Linux on x86-64 and
/// AArch64, where RLIMIT_AS is 9 and rlim_t 64 bits).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod rlimit {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    extern "C" {
        fn setrlimit(resource: std::ffi::c_int, rlim: *const RLimit) -> std::ffi::c_int;
    }
    const RLIMIT_AS: std::ffi::c_int = 9;

    /// Limit this process's address space to `bytes`.
    pub fn limit_address_space(bytes: u64) {
        let r = RLimit {
            cur: bytes,
            max: bytes,
        };
        // SAFETY: a valid rlimit structure, read during the call only.
        assert_eq!(unsafe { setrlimit(RLIMIT_AS, &r) }, 0, "setrlimit failed");
    }

    /// VmSize of this process, in bytes.
    pub fn address_space() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    }
}

/// The child of `allocation_failure_is_an_error_not_an_abort`: its own process, since the
/// limit would hold for every test of this one.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn memory_child() {
    let ctx = Ctx::open("reference");
    let (heads, kv, head_dim) = (32usize, 65536usize, 128usize);
    let nb = kv / 32;
    // The caller's buffers first: v alone is 264 MiB.
    let qk = vec![0u16; heads * kv];
    let vs = vec![0x7fu8; heads * nb * head_dim];
    let ve = vec![0i8; heads * nb * head_dim * 32];
    let mut out = vec![0x5555u16; heads * head_dim];
    // A small case before the limit (it also starts the library's threads), and after.
    let p = Params {
        heads: 1,
        head_dim: 4,
        element_rounding: Some(RoundingMode::NearestAway),
        ..Default::default()
    };
    let want = softmax_via_c(&ctx, &Inputs::generate(40, 0, &p), &p).out;
    let margin = 96 << 20;
    let vm = rlimit::address_space();
    rlimit::limit_address_space(vm + margin);
    println!(
        "child: address space limited to {} MiB",
        (vm + margin) >> 20
    );
    // SAFETY: every array has its documented length.
    let rc = unsafe {
        hwsim_softmax_v(
            ctx.ptr(),
            heads,
            kv,
            head_dim,
            qk.as_ptr(),
            vs.as_ptr(),
            ve.as_ptr(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            out.as_mut_ptr(),
            null_mut(),
        )
    };
    let e = last_error();
    assert_eq!(rc, HWSIM_ERR_NO_MEMORY, "{e}");
    assert!(
        e.starts_with("hwsim_softmax_v: cannot allocate ")
            && e.ends_with("for softmax_v with heads = 32, kv = 65536, head_dim = 128"),
        "{e}"
    );
    assert!(out.iter().all(|&x| x == 0x5555), "a refused call wrote out");
    // The process goes on, under the same limit.
    let again = softmax_via_c(&ctx, &Inputs::generate(40, 0, &p), &p).out;
    assert_eq!(again, want, "a small call after the refusal");
    println!("child: refused with HWSIM_ERR_NO_MEMORY ({e}), then went on");
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn allocation_failure_is_an_error_not_an_abort() {
    const NAME: &str = "allocation_failure_is_an_error_not_an_abort";
    if std::env::var_os("HWSIM_MEMORY_CHILD").is_some() {
        return memory_child();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("HWSIM_MEMORY_CHILD", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the child failed ({}):\n{text}",
        out.status
    );
    assert!(
        text.contains("child: refused with HWSIM_ERR_NO_MEMORY"),
        "the child did not run:\n{text}"
    );
}

// ---- The MX formats (docs/numerics.md §8): hwsim_quantize_mx and hwsim_{dot,gevm,gemm}_mx_* ----

/// The C codes of the formats, in the order of `MX_FORMATS`.
const MX_CODES: [u32; 6] = [
    HWSIM_MX_MXINT8,
    HWSIM_MX_MXFP8_E4M3,
    HWSIM_MX_MXFP8_E5M2,
    HWSIM_MX_MXFP6_E3M2,
    HWSIM_MX_MXFP6_E2M3,
    HWSIM_MX_MXFP4_E2M1,
];
const SCALE_CODES: [u32; 4] = [
    HWSIM_SCALE_FLOOR,
    HWSIM_SCALE_CEIL,
    HWSIM_SCALE_EVEN,
    HWSIM_SCALE_RCEIL,
];

#[test]
fn mx_codes_are_the_format_table_and_the_scale_rules() {
    let names = [
        "mxint8",
        "mxfp8-e4m3",
        "mxfp8-e5m2",
        "mxfp6-e3m2",
        "mxfp6-e2m3",
        "mxfp4-e2m1",
    ];
    for ((code, name), f) in MX_CODES.into_iter().zip(names).zip(MX_FORMATS) {
        assert_eq!((MX_FORMATS[code as usize].name, f.name), (name, name));
    }
    assert_eq!(HWSIM_MX_FORMATS as usize, MX_FORMATS.len());
    for (code, rule) in SCALE_CODES.into_iter().zip(ScaleRule::ALL) {
        assert_eq!(ScaleRule::ALL[code as usize], rule);
    }
    assert_eq!(HWSIM_ROUND_FORMAT_DEFAULT, u32::MAX);
    assert!(RoundingMode::ALL.len() < HWSIM_ROUND_FORMAT_DEFAULT as usize);
}

/// SplitMix64, for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// BF16 blocks that reach every branch of the quantizer: all 65,536 patterns in a shuffled
/// order (specials, subnormals, both signs), then blocks of values within a few binades of a
/// random amax over the whole exponent range (the scale clamps at -127 and 127 included), all
/// zero and signed-zero blocks, and a partial last block.
fn quantizer_inputs() -> Vec<u16> {
    let mut rng = Rng(20);
    let mut x: Vec<u16> = (0..=u16::MAX).collect();
    for i in (1..x.len()).rev() {
        x.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for b in 0..600u64 {
        let top = rng.below(255) as i64;
        let spread = rng.below(12) as i64;
        for _ in 0..32 {
            let e = (top - rng.below(spread as u64 + 1) as i64).max(0) as u16;
            let sign = (rng.below(2) as u16) << 15;
            let mant = match b % 3 {
                0 => rng.below(128) as u16,
                // Few mantissa bits: exact codes and ties at the elements' precision.
                1 => (rng.below(16) as u16) << 3,
                _ => 0x7f,
            };
            x.push(sign | (e << 7) | mant);
        }
    }
    x.extend([0u16; 32]);
    x.extend([0x8000u16; 32]);
    x.extend([
        0x3f80, 0xc000, 0x0001, 0x8000, 0x7f7f, 0x3fc0, 0xbf40, 0x0080, 0x4040,
    ]);
    x
}

/// hwsim_quantize_mx's outputs: scales, codes, flags.
fn quantize_mx_via_c(
    ctx: &Ctx,
    format: u32,
    rule: u32,
    rounding: u32,
    x: &[u16],
) -> (Vec<u8>, Vec<u8>, Vec<u32>) {
    let nb = x.len().div_ceil(32);
    let (mut s, mut c, mut f) = (vec![0xaau8; nb], vec![0xaau8; nb * 32], vec![0xaau32; nb]);
    // SAFETY: x has n elements, the outputs their documented lengths.
    let rc = unsafe {
        hwsim_quantize_mx(
            ctx.ptr(),
            format,
            rule,
            rounding,
            x.as_ptr(),
            x.len(),
            s.as_mut_ptr(),
            c.as_mut_ptr(),
            f.as_mut_ptr(),
        )
    };
    assert_eq!(rc, HWSIM_OK, "{}", last_error());
    (s, c, f)
}

#[test]
fn quantize_mx_is_the_quantizer_of_every_format_rule_and_rounding() {
    let ctx = Ctx::open("reference");
    let x = quantizer_inputs();
    let wide: Vec<Fp32> = x.iter().map(|&b| Bf16(b).to_fp32()).collect();
    for (fc, f) in MX_CODES.into_iter().zip(MX_FORMATS) {
        for (rc, rule) in SCALE_CODES.into_iter().zip(ScaleRule::ALL) {
            for (code, mode) in [
                (HWSIM_ROUND_FORMAT_DEFAULT, f.default_rounding),
                (HWSIM_ROUND_NEAREST_EVEN, RoundingMode::NearestEven),
                (HWSIM_ROUND_NEAREST_AWAY, RoundingMode::NearestAway),
            ] {
                let (s, c, fl) = quantize_mx_via_c(&ctx, fc, rc, code, &x);
                for (b, vals) in wide.chunks(32).enumerate() {
                    let want = f.quantize(vals, rule, mode);
                    let got = (s[b], &c[32 * b..32 * b + 32], fl[b]);
                    assert_eq!(
                        got,
                        (
                            want.value.scale.0,
                            &want.value.codes[..],
                            want.status.bits() as u32
                        ),
                        "{} {} {mode}: block {b} of {:04x?}",
                        f.name,
                        rule.name(),
                        &x[32 * b..(32 * b + 32).min(x.len())]
                    );
                }
                if code == HWSIM_ROUND_FORMAT_DEFAULT {
                    let mxint8 = f.name == "mxint8";
                    assert_eq!(mode == RoundingMode::NearestAway, mxint8, "{}", f.name);
                }
            }
        }
    }
}

/// The `sim` binary whose output the tests compare with: `$SIM` (relative to the workspace
/// root), else the one next to this test's own build (`target/<profile>/sim`, which `cargo test
/// --workspace` and `make test-build` build).
fn sim_binary() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if let Some(p) = std::env::var_os("SIM") {
        return root.join(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let sim = profile_dir.join("sim");
    assert!(
        sim.exists(),
        "{} not found: build it with `cargo build --profile {} -p sim` (make test-build), or set SIM",
        sim.display(),
        profile_dir.file_name().unwrap().to_string_lossy()
    );
    sim
}

/// Run `sim` with `args` and `--out` a fresh folder; the case folder it wrote.
fn sim_case(args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(sim_binary())
        .args(args)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "sim {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut dirs: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "sim {args:?} wrote {dirs:?}");
    let dir = dirs.pop().unwrap();
    (out, dir)
}

/// The flag counts a manifest records for `file`.
fn manifest_flags(dir: &std::path::Path, file: &str) -> FlagCounts {
    let m = Manifest::read(&dir.join("manifest.json")).unwrap();
    m.files[file]
        .flags
        .expect("a computed file has flag counts")
}

fn flag_counts(words: &[u32]) -> FlagCounts {
    FlagCounts::of(words.iter().map(|&w| Status::from_bits(w as u8)))
}

#[test]
fn quantize_mx_is_sim_op_quantize_byte_for_byte() {
    let ctx = Ctx::open("reference");
    let roundings = [
        (HWSIM_ROUND_FORMAT_DEFAULT, None),
        (HWSIM_ROUND_NEAREST_EVEN, Some("nearest-even")),
        (HWSIM_ROUND_NEAREST_AWAY, Some("nearest-away")),
    ];
    let mut cases = 0;
    for (i, (fc, f)) in MX_CODES.into_iter().zip(MX_FORMATS).enumerate() {
        for (j, (rc, rule)) in SCALE_CODES.into_iter().zip(ScaleRule::ALL).enumerate() {
            let (code, rounding) = roundings[(i + j) % 3];
            let seed = (4 * i + j).to_string();
            let mut args = vec![
                "op",
                "quantize",
                "--m",
                "299",
                "--seed",
                &seed,
                "--dist",
                "corners",
                "--mx-format",
                f.name,
                "--scale-rule",
                rule.name(),
            ];
            if let Some(r) = rounding {
                args.extend(["--element-rounding", r]);
            }
            let (_tmp, dir) = sim_case(&args);
            let x: Vec<u16> = read_bf16(&dir.join("quantize.input"), Some(299))
                .unwrap()
                .iter()
                .map(|b| b.0)
                .collect();
            let (s, c, fl) = quantize_mx_via_c(&ctx, fc, rc, code, &x);
            let codes = MxCodes {
                format: f,
                shape: vec![299],
                block_axis: 0,
                blocks: s
                    .iter()
                    .zip(c.chunks(32))
                    .map(|(&s, c)| MxBlock {
                        scale: E8m0(s),
                        codes: c.try_into().unwrap(),
                    })
                    .collect(),
            };
            let want = std::fs::read(dir.join("quantize.output")).unwrap();
            assert!(
                to_bytes(DumpRef::Mx(&codes)) == want,
                "{args:?}: the C quantizer's dump differs from sim's"
            );
            assert_eq!(
                flag_counts(&fl),
                manifest_flags(&dir, "quantize.output"),
                "{args:?}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 24);
}

type MxOperand = (Vec<u8>, Vec<u8>);

fn mx_flat(t: &MxCodes) -> MxOperand {
    (
        t.blocks.iter().map(|b| b.scale.0).collect(),
        t.blocks.iter().flat_map(|b| b.codes).collect(),
    )
}

/// An MX product through its C entry point: output bits (as u32) and flags.
fn mx_op_via_c(
    ctx: &Ctx,
    op: OpKind,
    dims: Dims,
    formats: [u32; 2],
    [a, b]: [&MxOperand; 2],
    dtype: OutDtype,
    rounding: u32,
) -> (i32, Vec<u32>, Vec<u32>) {
    let Dims { m, k, n } = dims;
    let outputs = match op {
        OpKind::Dot => 1,
        OpKind::Gevm => k,
        OpKind::Gemm => m * n,
    };
    let [fa, fb] = formats;
    let (sa, ca, sb, cb) = (a.0.as_ptr(), a.1.as_ptr(), b.0.as_ptr(), b.1.as_ptr());
    let mut flags = vec![0u32; outputs];
    let f = flags.as_mut_ptr();
    let c = ctx.ptr();
    let (rc, out) = match dtype {
        OutDtype::Bf16 => {
            let mut o = vec![0u16; outputs];
            let p = o.as_mut_ptr();
            // SAFETY: the operands and outputs have the documented lengths.
            let rc = unsafe {
                match op {
                    OpKind::Dot => hwsim_dot_mx_bf16(c, m, fa, fb, sa, ca, sb, cb, rounding, p, f),
                    OpKind::Gevm => {
                        hwsim_gevm_mx_bf16(c, m, k, fa, fb, sa, ca, sb, cb, rounding, p, f)
                    }
                    OpKind::Gemm => {
                        hwsim_gemm_mx_bf16(c, m, k, n, fa, fb, sa, ca, sb, cb, rounding, p, f)
                    }
                }
            };
            (rc, o.into_iter().map(u32::from).collect())
        }
        OutDtype::Fp32 => {
            let mut o = vec![0u32; outputs];
            let p = o.as_mut_ptr();
            // SAFETY: as above.
            let rc = unsafe {
                match op {
                    OpKind::Dot => hwsim_dot_mx_fp32(c, m, fa, fb, sa, ca, sb, cb, rounding, p, f),
                    OpKind::Gevm => {
                        hwsim_gevm_mx_fp32(c, m, k, fa, fb, sa, ca, sb, cb, rounding, p, f)
                    }
                    OpKind::Gemm => {
                        hwsim_gemm_mx_fp32(c, m, k, n, fa, fb, sa, ca, sb, cb, rounding, p, f)
                    }
                }
            };
            (rc, o)
        }
    };
    (rc, out, flags)
}

/// `sim op OP --mx-format A,B --dist corners` and the same product through libhwsim on the
/// operand dumps sim wrote: the output bits and the flag counts must be the output dump's and
/// the manifest's.
fn check_mx_op_against_sim(
    ctx: &Ctx,
    op: OpKind,
    dims: Dims,
    [ia, ib]: [usize; 2],
    dtype: OutDtype,
    rounding: usize,
    seed: usize,
) {
    let (fa, fb) = (MX_FORMATS[ia], MX_FORMATS[ib]);
    let Dims { m, k, n } = dims;
    let (m_, k_, n_, seed_) = (
        m.to_string(),
        k.to_string(),
        n.to_string(),
        seed.to_string(),
    );
    let formats = format!("{},{}", fa.name, fb.name);
    let mode = RoundingMode::ALL[rounding];
    let mode_name = mode.name();
    let mut args = vec![
        "op",
        op.name(),
        "--m",
        &m_,
        "--seed",
        &seed_,
        "--dist",
        "corners",
        "--mx-format",
        &formats,
        "--out-dtype",
        dtype.name(),
        "--rounding",
        mode_name,
    ];
    match op {
        OpKind::Dot => {}
        OpKind::Gevm => args.extend(["--k", &k_]),
        OpKind::Gemm => args.extend(["--k", &k_, "--n", &n_]),
    }
    let (_tmp, dir) = sim_case(&args);
    let [na, nb] = op.operand_names();
    let ((sa, xa), (sb, xb)) = match op {
        OpKind::Dot => ((vec![m], 0), (vec![m], 0)),
        OpKind::Gevm => ((vec![m], 0), (vec![m, k], 0)),
        OpKind::Gemm => ((vec![m, k], 1), (vec![k, n], 0)),
    };
    let a = read_mx_codes(&dir.join(op.file(na)), fa, sa, xa).unwrap();
    let b = read_mx_codes(&dir.join(op.file(nb)), fb, sb, xb).unwrap();
    let (rc, got, flags) = mx_op_via_c(
        ctx,
        op,
        dims,
        [MX_CODES[ia], MX_CODES[ib]],
        [&mx_flat(&a), &mx_flat(&b)],
        dtype,
        rounding as u32,
    );
    assert_eq!(rc, HWSIM_OK, "{args:?}: {}", last_error());
    let out = dir.join(op.file("output"));
    let want: Vec<u32> = match dtype {
        OutDtype::Bf16 => read_bf16(&out, None)
            .unwrap()
            .iter()
            .map(|x| x.0 as u32)
            .collect(),
        OutDtype::Fp32 => read_fp32(&out, None).unwrap().iter().map(|x| x.0).collect(),
    };
    assert_eq!(got, want, "{args:?}");
    assert_eq!(
        flag_counts(&flags),
        manifest_flags(&dir, &op.file("output")),
        "{args:?}"
    );
}

#[test]
fn gemm_mx_is_sim_op_gemm_for_every_format_pair() {
    let ctx = Ctx::open("reference");
    let dims = Dims { m: 6, k: 70, n: 5 };
    for ia in 0..MX_FORMATS.len() {
        for ib in 0..MX_FORMATS.len() {
            let i = ia * MX_FORMATS.len() + ib;
            let dtype = [OutDtype::Bf16, OutDtype::Fp32][i % 2];
            check_mx_op_against_sim(&ctx, OpKind::Gemm, dims, [ia, ib], dtype, i % 5, i);
        }
    }
}

#[test]
fn dot_and_gevm_mx_are_sim_op() {
    let ctx = Ctx::open("reference");
    let pairs = [[1, 5], [2, 2], [3, 4], [0, 1], [5, 0]];
    for (i, pair) in pairs.into_iter().enumerate() {
        let dtype = [OutDtype::Bf16, OutDtype::Fp32][i % 2];
        let dot = Dims { m: 200, k: 1, n: 1 };
        check_mx_op_against_sim(&ctx, OpKind::Dot, dot, pair, dtype, i, i);
        let gevm = Dims { m: 45, k: 9, n: 1 };
        check_mx_op_against_sim(&ctx, OpKind::Gevm, gevm, pair, dtype, 4 - i, i);
    }
}

/// Two MXINT8 operands take the context's MAC accumulator, as the MXINT8 functions do (the
/// narrow profile's differs from the exact sum); every other pair is refused by such a context.
#[test]
fn mxint8_pairs_are_the_mxint8_functions_and_narrow_refuses_the_others() {
    for p in ["reference", "narrow"] {
        let ctx = Ctx::open(p);
        for (seed, (op, dims)) in [
            (OpKind::Dot, Dims { m: 33, k: 1, n: 1 }),
            (OpKind::Gevm, Dims { m: 70, k: 9, n: 1 }),
            (OpKind::Gemm, Dims { m: 16, k: 64, n: 9 }),
        ]
        .into_iter()
        .enumerate()
        {
            let case = OpCase::generate(op, dims, seed as u64);
            let as_codes = |t: &sim::tensor::MxTensor| -> MxOperand {
                let (s, e) = flat(&t.blocks);
                (s, e.into_iter().map(|q| q as u8).collect())
            };
            let (a, b) = (as_codes(&case.operands[0]), as_codes(&case.operands[1]));
            for dtype in [OutDtype::Bf16, OutDtype::Fp32] {
                for rounding in [HWSIM_ROUND_NEAREST_EVEN, HWSIM_ROUND_TOWARD_NEG] {
                    let want = op_via_c(&ctx, &case, dtype, rounding);
                    let int8 = [HWSIM_MX_MXINT8; 2];
                    let (rc, out, flags) =
                        mx_op_via_c(&ctx, op, dims, int8, [&a, &b], dtype, rounding);
                    assert_eq!(rc, HWSIM_OK, "{}", last_error());
                    assert_eq!((out, flags), want, "{p} {op:?} {dtype:?} {rounding}");
                    let other = [HWSIM_MX_MXINT8, HWSIM_MX_MXFP8_E4M3];
                    let (rc, ..) = mx_op_via_c(&ctx, op, dims, other, [&a, &b], dtype, rounding);
                    if p == "narrow" {
                        assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
                        let e = last_error();
                        assert!(
                            e.starts_with(&format!(
                                "hwsim_{}_mx_{}: format_a = mxint8, format_b = mxfp8-e4m3: products of MX formats other than mxint8 x mxint8 are summed exactly, and the MAC accumulator of this context ('narrow') is not exact",
                                op.name(),
                                dtype.name()
                            )),
                            "{e}"
                        );
                    } else {
                        assert_eq!(rc, HWSIM_OK, "{}", last_error());
                    }
                }
            }
        }
    }
}

/// A known product by hand: [1.5, -2] (E4M3, scale 2^1) . [4, 0.5] (E2M1, scale 2^-1) =
/// 2 * 0.5 * (1.5 * 4 - 2 * 0.5) = 5; and the same with inf and NaN codes (IEEE).
#[test]
fn mx_products_by_hand() {
    let ctx = Ctx::open("reference");
    let a_codes = {
        let mut c = vec![0u8; 32];
        c[0] = 0x3c; // E4M3 1.5: exponent 7 (bias 7), fraction 100
        c[1] = 0xc0; // -2: sign, exponent 8
        c
    };
    let b_codes = {
        let mut c = vec![0u8; 32];
        c[0] = 0x6; // E2M1 4.0: exponent 3 (bias 1), fraction 0
        c[1] = 0x1; // 0.5: the subnormal
        c
    };
    let (a, b) = ((vec![128u8], a_codes), (vec![126u8], b_codes));
    let fm = [HWSIM_MX_MXFP8_E4M3, HWSIM_MX_MXFP4_E2M1];
    let dims = Dims { m: 2, k: 1, n: 1 };
    let (rc, out, flags) = mx_op_via_c(&ctx, OpKind::Dot, dims, fm, [&a, &b], OutDtype::Bf16, 0);
    assert_eq!(
        (rc, out, flags),
        (HWSIM_OK, vec![0x40a0], vec![0]),
        "5.0 exactly"
    );
    // E5M2: 0x7c is +inf, 0x7f a NaN; inf * 4 + (-2 * 0.5) = inf, NaN propagates.
    let e5 = [HWSIM_MX_MXFP8_E5M2, HWSIM_MX_MXFP4_E2M1];
    let mut inf = a.clone();
    inf.1[0] = 0x7c;
    inf.1[1] = 0;
    let (rc, out, _) = mx_op_via_c(&ctx, OpKind::Dot, dims, e5, [&inf, &b], OutDtype::Fp32, 0);
    assert_eq!((rc, out), (HWSIM_OK, vec![0x7f80_0000]));
    inf.1[0] = 0x7f;
    let (rc, out, _) = mx_op_via_c(&ctx, OpKind::Dot, dims, e5, [&inf, &b], OutDtype::Bf16, 0);
    assert_eq!(rc, HWSIM_OK);
    assert_eq!(out[0] & 0x7f80, 0x7f80);
    assert_ne!(out[0] & 0x7f, 0, "NaN");
}

#[test]
fn mx_functions_refuse_bad_arguments_naming_themselves() {
    let ctx = Ctx::open("reference");
    let x = [0x3f80u16; 40];
    let (mut s, mut c, mut f) = ([0x11u8; 2], [0x22u8; 64], [0x33u32; 2]);
    let c_ = ctx.ptr();
    // SAFETY: every array has its documented length, or the call must fail before using it.
    let mut q = |fmt: u32, rule: u32, er: u32, x: *const u16, n: usize, codes: bool| unsafe {
        let cp = if codes { c.as_mut_ptr() } else { null_mut() };
        let rc = hwsim_quantize_mx(c_, fmt, rule, er, x, n, s.as_mut_ptr(), cp, f.as_mut_ptr());
        (rc, last_error())
    };
    let xp = x.as_ptr();
    let bad = |r: (i32, String), msg: &str| {
        assert_eq!(r.0, HWSIM_ERR_INVALID_ARGUMENT, "{msg}");
        assert!(r.1.starts_with(msg), "{} does not start with {msg}", r.1);
    };
    bad(
        q(6, 0, 0, xp, 40, true),
        "hwsim_quantize_mx: format = 6 is not an MX format code (HWSIM_MX_*, 0..=5: mxint8, mxfp8-e4m3, mxfp8-e5m2, mxfp6-e3m2, mxfp6-e2m3, mxfp4-e2m1)",
    );
    bad(
        q(1, 4, 0, xp, 40, true),
        "hwsim_quantize_mx: scale_rule = 4 is not a scale-rule code",
    );
    bad(
        q(1, 0, HWSIM_ROUND_TOWARD_ZERO, xp, 40, true),
        "hwsim_quantize_mx: element_rounding = 2: the quantizer rounds elements with",
    );
    bad(
        q(1, 0, 0, xp, 0, true),
        "hwsim_quantize_mx: n is 0 (must be at least 1)",
    );
    bad(
        q(1, 0, 0, null(), 0, true),
        "hwsim_quantize_mx: n is 0 (must be at least 1)",
    );
    bad(
        q(1, 0, 0, null(), 40, true),
        "hwsim_quantize_mx: x_bf16 is NULL",
    );
    bad(
        q(1, 0, 0, xp, 40, false),
        "hwsim_quantize_mx: codes is NULL",
    );
    bad(
        q(1, 0, 0, xp, usize::MAX, true),
        "hwsim_quantize_mx: x_bf16: ",
    );
    assert_eq!(
        (s, c, f),
        ([0x11; 2], [0x22; 64], [0x33; 2]),
        "a failed call wrote an output"
    );
    // SAFETY: as above; scales NULL must be refused.
    let rc =
        unsafe { hwsim_quantize_mx(c_, 5, 0, 0, xp, 40, null_mut(), c.as_mut_ptr(), null_mut()) };
    assert_eq!(
        (rc, last_error().as_str()),
        (
            HWSIM_ERR_INVALID_ARGUMENT,
            "hwsim_quantize_mx: scales is NULL"
        )
    );
    // SAFETY: NULL context is an accepted argument (an error).
    let rc = unsafe {
        hwsim_quantize_mx(
            null(),
            5,
            0,
            0,
            xp,
            40,
            s.as_mut_ptr(),
            c.as_mut_ptr(),
            null_mut(),
        )
    };
    assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT);
    assert!(last_error().starts_with("hwsim_quantize_mx: ctx is NULL"));
    // flags may be NULL; the format's default rounding is taken.
    // SAFETY: as above.
    let rc = unsafe {
        hwsim_quantize_mx(
            c_,
            5,
            0,
            u32::MAX,
            xp,
            40,
            s.as_mut_ptr(),
            c.as_mut_ptr(),
            null_mut(),
        )
    };
    assert_eq!(rc, HWSIM_OK, "{}", last_error());
    // 1.0 in E2M1 by floor: scale 2^-2, element 4.0 (code 0x6); the padding codes are 0.
    assert_eq!(s, [125, 125]);
    assert!(c[..40].iter().all(|&x| x == 0x6) && c[40..].iter().all(|&x| x == 0));

    // Products: gemm 2 x 40 x 3 of E2M1 x E3M2.
    let (m, k, n) = (2usize, 40usize, 3usize);
    let a: MxOperand = (vec![127; 4], vec![0x2; 4 * 32]);
    let b: MxOperand = (vec![127; 6], vec![0x4; 6 * 32]);
    let pad = |mut g: MxOperand, blocks: &[usize]| {
        for &blk in blocks {
            g.1[32 * blk + 8..32 * blk + 32].fill(0);
        }
        g
    };
    // input [2, 2 blocks]: blocks 1 and 3 are partial; other [2 blocks, 3]: blocks 3..6.
    let (a, b) = (pad(a, &[1, 3]), pad(b, &[3, 4, 5]));
    let fm = [HWSIM_MX_MXFP4_E2M1, HWSIM_MX_MXFP6_E3M2];
    let dims = Dims { m, k, n };
    let call = |fm: [u32; 2], a: &MxOperand, b: &MxOperand, rounding: u32| {
        let (rc, out, _) = mx_op_via_c(
            &ctx,
            OpKind::Gemm,
            dims,
            fm,
            [a, b],
            OutDtype::Bf16,
            rounding,
        );
        (rc, out, last_error())
    };
    let (rc, out, e) = call(fm, &a, &b, 0);
    // Each output: 40 products of E2M1 0x2 (1.0) and E3M2 0x4 (2^-2) = 10.0, BF16 0x4120.
    assert_eq!((rc, out), (HWSIM_OK, vec![0x4120; 6]), "{e}");
    let refuse = |r: (i32, Vec<u32>, String), msg: &str| {
        assert_eq!(r.0, HWSIM_ERR_INVALID_ARGUMENT, "{msg}");
        assert!(r.2.starts_with(msg), "{} does not start with {msg}", r.2);
    };
    refuse(
        call([HWSIM_MX_FORMATS, fm[1]], &a, &b, 0),
        "hwsim_gemm_mx_bf16: format_a = 6 is not an MX format code",
    );
    refuse(
        call([fm[0], 99], &a, &b, 0),
        "hwsim_gemm_mx_bf16: format_b = 99 is not an MX format code",
    );
    refuse(
        call(fm, &a, &b, 5),
        "hwsim_gemm_mx_bf16: rounding = 5 is not a rounding code",
    );
    let mut wide = a.clone();
    wide.1[33] = 0x10;
    refuse(
        call(fm, &wide, &b, 0),
        "hwsim_gemm_mx_bf16: input_codes[33] = 0x10 (block 1, element 1) is not a mxfp4-e2m1 code: its codes are 4 bits, 0x00..=0x0f",
    );
    let mut wide = b.clone();
    wide.1[5 * 32 + 2] = 0x40;
    refuse(
        call(fm, &a, &wide, 0),
        "hwsim_gemm_mx_bf16: other_codes[162] = 0x40 (block 5, element 2) is not a mxfp6-e3m2 code: its codes are 6 bits, 0x00..=0x3f",
    );
    // The same byte is a code of an 8-bit format.
    let e4m3 = [HWSIM_MX_MXFP4_E2M1, HWSIM_MX_MXFP8_E4M3];
    assert_eq!(call(e4m3, &a, &wide, 0).0, HWSIM_OK);
    let mut padded = a.clone();
    padded.1[32 + 8 + 3] = 0x1;
    refuse(
        call(fm, &padded, &b, 0),
        "hwsim_gemm_mx_bf16: input_codes: block 1 has a nonzero padding element 11 (k index 43 is past k = 40); padding must be zero",
    );
    let mut out = [0xbeefu16; 6];
    let (sa, ca, sb, cb) = (a.0.as_ptr(), a.1.as_ptr(), b.0.as_ptr(), b.1.as_ptr());
    let [fa, fb] = fm;
    // Each call's error, read after it returns.
    let expect = |rc: i32, msg: &str| {
        assert_eq!(rc, HWSIM_ERR_INVALID_ARGUMENT, "{msg}");
        let e = last_error();
        assert!(e.starts_with(msg), "{e} does not start with {msg}");
    };
    // SAFETY: every array has its documented length, or the call must fail before reading it.
    unsafe {
        let o = out.as_mut_ptr();
        expect(
            hwsim_gemm_mx_bf16(c_, m, 0, n, fa, fb, sa, ca, sb, cb, 0, o, null_mut()),
            "hwsim_gemm_mx_bf16: k is 0 (must be at least 1)",
        );
        expect(
            hwsim_gemm_mx_bf16(c_, m, k, n, fa, fb, sa, null(), sb, cb, 0, o, null_mut()),
            "hwsim_gemm_mx_bf16: input_codes is NULL",
        );
        expect(
            hwsim_gemm_mx_bf16(c_, m, k, n, fa, fb, sa, ca, null(), cb, 0, o, null_mut()),
            "hwsim_gemm_mx_bf16: other_scales is NULL",
        );
        expect(
            hwsim_gemm_mx_bf16(
                c_,
                m,
                k,
                n,
                fa,
                fb,
                sa,
                ca,
                sb,
                cb,
                0,
                null_mut(),
                null_mut(),
            ),
            "hwsim_gemm_mx_bf16: out is NULL",
        );
        expect(
            hwsim_gemm_mx_bf16(
                c_,
                usize::MAX / 2,
                k,
                n,
                fa,
                fb,
                sa,
                ca,
                sb,
                cb,
                0,
                o,
                null_mut(),
            ),
            "hwsim_gemm_mx_bf16: ",
        );
        expect(
            hwsim_gemm_mx_bf16(null(), m, k, n, fa, fb, sa, ca, sb, cb, 0, o, null_mut()),
            "hwsim_gemm_mx_bf16: ctx is NULL",
        );
        expect(
            hwsim_dot_mx_fp32(c_, 0, fa, fb, sa, ca, sb, cb, 0, null_mut(), null_mut()),
            "hwsim_dot_mx_fp32: m is 0 (must be at least 1)",
        );
        expect(
            hwsim_gevm_mx_fp32(c_, 40, 3, 7, fb, sa, ca, sb, cb, 0, null_mut(), null_mut()),
            "hwsim_gevm_mx_fp32: format_a = 7 is not an MX format code",
        );
        expect(
            hwsim_gevm_mx_bf16(c_, 40, 0, fa, fb, sa, ca, sb, cb, 0, o, null_mut()),
            "hwsim_gevm_mx_bf16: k is 0 (must be at least 1)",
        );
    }
    assert_eq!(out, [0xbeef; 6], "a failed call wrote an output");
}

// ---- softmax_v with other block formats (docs/numerics.md §3.7): hwsim_softmax_v_mx ----

/// Every output of hwsim_softmax_v_mx, as vectors.
#[derive(Debug, PartialEq, Eq)]
struct SoftmaxMxOut {
    exp: Vec<u16>,
    exp_sum: Vec<u16>,
    exp_scales: Vec<u8>,
    exp_codes: Vec<u8>,
    scaled_v: Vec<u16>,
    inv: Vec<u16>,
    out: Vec<u16>,
    flags: [u32; HWSIM_SOFTMAX_STAGES],
}

/// The C code of a format (the row of `MX_FORMATS`).
fn mx_code(f: &hw_types::MxFormat) -> u32 {
    MX_CODES[MX_FORMATS.iter().position(|g| g == f).unwrap()]
}

/// An MX tensor's blocks as the C arrays: scale bytes, and codes one per byte.
fn mx_data_flat(t: &sim::tensor::MxData) -> MxOperand {
    let blocks: Vec<MxBlock> = (0..t.block_count()).map(|g| t.block(g)).collect();
    (
        blocks.iter().map(|b| b.scale.0).collect(),
        blocks.iter().flat_map(|b| b.codes).collect(),
    )
}

/// hwsim_softmax_v_mx on `inputs` with the formats and rounding of `p`: its return code, and the
/// outputs (as they were before the call if it failed).
fn softmax_mx_via_c(ctx: &Ctx, inputs: &Inputs, p: &Params) -> (i32, SoftmaxMxOut) {
    let (h, kv, d) = (p.heads, inputs.kv_size(), p.head_dim);
    let nb = kv.div_ceil(32);
    let qk: Vec<u16> = inputs.qk_t.data.iter().map(|x| x.0).collect();
    let (vs, vc) = mx_data_flat(&inputs.v);
    let mut o = SoftmaxMxOut {
        exp: vec![0xaaaa; h * kv],
        exp_sum: vec![0xaaaa; h],
        exp_scales: vec![0xaa; h * nb],
        exp_codes: vec![0xaa; h * nb * 32],
        scaled_v: vec![0xaaaa; h * d],
        inv: vec![0xaaaa; h],
        out: vec![0xaaaa; h * d],
        flags: [0xaa; HWSIM_SOFTMAX_STAGES],
    };
    let er = match p.element_rounding {
        None => HWSIM_ROUND_FORMAT_DEFAULT,
        Some(RoundingMode::NearestEven) => HWSIM_ROUND_NEAREST_EVEN,
        Some(_) => HWSIM_ROUND_NEAREST_AWAY,
    };
    let f = &p.formats;
    // SAFETY: every array has its documented length.
    let rc = unsafe {
        hwsim_softmax_v_mx(
            ctx.ptr(),
            h,
            kv,
            d,
            mx_code(&f.exp),
            mx_code(&f.v),
            SCALE_CODES[ScaleRule::ALL.iter().position(|r| *r == f.rule).unwrap()],
            er,
            qk.as_ptr(),
            vs.as_ptr(),
            vc.as_ptr(),
            o.exp.as_mut_ptr(),
            o.exp_sum.as_mut_ptr(),
            o.exp_scales.as_mut_ptr(),
            o.exp_codes.as_mut_ptr(),
            o.scaled_v.as_mut_ptr(),
            o.inv.as_mut_ptr(),
            o.out.as_mut_ptr(),
            o.flags.as_mut_ptr(),
        )
    };
    (rc, o)
}

/// What hwsim_softmax_v_mx must give: the stages `sim::softmax` computed.
fn softmax_mx_want(s: &sim::softmax::Stages) -> SoftmaxMxOut {
    let b = |t: &sim::tensor::Tensor<Bf16>| t.data.iter().map(|x| x.0).collect::<Vec<_>>();
    let any = |v: &[Status]| v.iter().fold(Status::OK, |a, &x| a | x).bits() as u32;
    let (es, ec) = mx_data_flat(&s.exp_mx);
    SoftmaxMxOut {
        exp: b(&s.exp),
        exp_sum: b(&s.exp_sum),
        exp_scales: es,
        exp_codes: ec,
        scaled_v: b(&s.scaled_v),
        inv: b(&s.inv),
        out: b(&s.out),
        flags: [
            any(&s.flags.exp),
            any(&s.flags.exp_sum),
            any(&s.flags.exp_mx),
            any(&s.flags.scaled_v),
            any(&s.flags.inv),
            any(&s.flags.out),
        ],
    }
}

#[test]
fn softmax_v_mx_is_sim_softmax_for_pairs_rules_and_roundings() {
    use sim::gen::Dist;
    use sim::softmax::Formats;
    let [int8, e4m3, e5m2, e3m2, e2m3, e2m1] = MX_FORMATS;
    let ctx = Ctx::open("reference");
    let cases = [
        (e4m3, e2m1, ScaleRule::Floor, None, 100, 3, Dist::Uniform),
        (e2m3, e3m2, ScaleRule::Floor, None, 33, 3, Dist::Corners),
        (
            int8,
            e2m1,
            ScaleRule::Floor,
            Some(RoundingMode::NearestAway),
            70,
            2,
            Dist::Mixed,
        ),
        (e5m2, e4m3, ScaleRule::Rceil, None, 70, 1, Dist::Mixed),
        (
            e2m1,
            int8,
            ScaleRule::Even,
            Some(RoundingMode::NearestEven),
            257,
            5,
            Dist::Corners,
        ),
        (
            int8,
            int8,
            ScaleRule::Ceil,
            Some(RoundingMode::NearestEven),
            45,
            4,
            Dist::Uniform,
        ),
        (int8, int8, ScaleRule::Floor, None, 40, 0, Dist::Corners),
    ];
    for (exp, v, rule, rounding, kv, seed, dist) in cases {
        let p = Params {
            heads: 3,
            head_dim: 24,
            element_rounding: rounding,
            formats: Formats { exp, v, rule },
        };
        let what = format!(
            "{} x {} {} {rounding:?} kv {kv} {}",
            exp.name,
            v.name,
            rule.name(),
            dist.name()
        );
        let inputs = Inputs::generate_with(kv, seed, &p, dist);
        let (rc, got) = softmax_mx_via_c(&ctx, &inputs, &p);
        assert_eq!(rc, HWSIM_OK, "{what}: {}", last_error());
        let s = sim::softmax::run(inputs.clone(), &p);
        assert_eq!(got, softmax_mx_want(&s), "{what}");
        if p.formats.is_mxint8() {
            // The dataset's formats: hwsim_softmax_v_ex (nearest-away, the format's default).
            let ex = softmax_via_c(&ctx, &inputs, &p);
            assert_eq!(
                (got.out, got.exp_scales),
                (ex.out, ex.exp_scales),
                "{what}: not hwsim_softmax_v_ex"
            );
        }
    }
}

#[test]
fn softmax_v_mx_reproduces_sim_run_byte_for_byte() {
    use sim::tensor::{MxData, Tensor};
    let ctx = Ctx::open("reference");
    let (_tmp, dir) = sim_case(&[
        "run",
        "--kv-size",
        "70",
        "--seed",
        "2",
        "--heads",
        "4",
        "--head-dim",
        "16",
        "--dist",
        "corners",
        "--exp-format",
        "mxfp8-e4m3",
        "--v-format",
        "mxfp4-e2m1",
    ]);
    assert!(dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .ends_with("_mxfp8-e4m3_mxfp4-e2m1_dist-corners"));
    let [_, e4m3, _, _, _, e2m1] = MX_FORMATS;
    let p = Params {
        heads: 4,
        head_dim: 16,
        element_rounding: None,
        formats: sim::softmax::Formats {
            exp: e4m3,
            v: e2m1,
            rule: ScaleRule::Floor,
        },
    };
    // The inputs as sim wrote them; then every dump rebuilt from the C outputs.
    let inputs = Inputs::read(&dir, &p).unwrap();
    let (rc, o) = softmax_mx_via_c(&ctx, &inputs, &p);
    assert_eq!(rc, HWSIM_OK, "{}", last_error());
    let t = |shape: Vec<usize>, bits: &[u16]| {
        Tensor::new(shape, bits.iter().map(|&b| Bf16(b)).collect())
    };
    let exp_mx = MxCodes {
        format: e4m3,
        shape: vec![1, 4, 1, 70],
        block_axis: 3,
        blocks: o
            .exp_scales
            .iter()
            .zip(o.exp_codes.chunks(32))
            .map(|(&s, c)| MxBlock {
                scale: E8m0(s),
                codes: c.try_into().unwrap(),
            })
            .collect(),
    };
    let MxData::Codes(v) = &inputs.v else {
        panic!("an mxfp4-e2m1 v is codes")
    };
    let qk = inputs.qk_t.clone();
    let (exp, exp_sum) = (
        t(vec![1, 4, 1, 70], &o.exp),
        t(vec![1, 4, 1, 1], &o.exp_sum),
    );
    let (scaled_v, inv) = (
        t(vec![1, 4, 1, 16], &o.scaled_v),
        t(vec![1, 4, 1, 1], &o.inv),
    );
    let out = t(vec![1, 4, 1, 16], &o.out);
    let dumps = [
        ("softmaxed_v.qk_T", DumpRef::Bf16(&qk)),
        ("softmaxed_v.exp-bf16", DumpRef::Bf16(&exp)),
        ("softmaxed_v.exp_sum", DumpRef::Bf16(&exp_sum)),
        ("softmaxed_v.v", DumpRef::Mx(v)),
        ("softmaxed_v.exp_mxfp8-e4m3", DumpRef::Mx(&exp_mx)),
        ("softmaxed_v.scaled_v", DumpRef::Bf16(&scaled_v)),
        ("softmaxed_v.inv", DumpRef::Bf16(&inv)),
        ("softmaxed_v.out", DumpRef::Bf16(&out)),
    ];
    for (name, d) in dumps {
        let want = std::fs::read(dir.join(name)).unwrap();
        assert!(to_bytes(d) == want, "{name} differs from sim run's");
    }
    // A stage's flag word is nonzero in exactly the bits the manifest counts.
    let stages = [
        "softmaxed_v.exp-bf16",
        "softmaxed_v.exp_sum",
        "softmaxed_v.exp_mxfp8-e4m3",
        "softmaxed_v.scaled_v",
        "softmaxed_v.inv",
        "softmaxed_v.out",
    ];
    for (i, name) in stages.into_iter().enumerate() {
        let c = manifest_flags(&dir, name);
        let want = [c.inexact, c.underflow, c.overflow, c.div_by_zero, c.invalid]
            .iter()
            .enumerate()
            .fold(0u32, |w, (bit, &n)| w | (u32::from(n > 0) << bit));
        assert_eq!(o.flags[i], want, "{name}: flags");
    }
}

#[test]
fn softmax_v_mx_refuses_bad_arguments_and_inexact_mac_arrays() {
    let [int8, e4m3, _, _, _, e2m1] = MX_FORMATS;
    let p = Params {
        heads: 2,
        head_dim: 8,
        element_rounding: None,
        formats: sim::softmax::Formats {
            exp: e4m3,
            v: e2m1,
            rule: ScaleRule::Floor,
        },
    };
    let inputs = Inputs::generate(40, 0, &p);
    let qk: Vec<u16> = inputs.qk_t.data.iter().map(|x| x.0).collect();
    let (vs, mut vc) = mx_data_flat(&inputs.v);
    let mut out = vec![0x1234u16; 16];
    let mut codes = vec![0x55u8; 2 * 2 * 32];
    let reference = Ctx::open("reference");
    let narrow = Ctx::open("narrow");
    // (Vec::as_mut_ptr: the pointers stay valid while the vectors are read in between.)
    let (out_p, codes_p) = (out.as_mut_ptr(), codes.as_mut_ptr());
    // SAFETY: every array has its documented length, or the call must fail before using it.
    let call = |c: &Ctx, formats: [u32; 3], er: u32, kv: usize, vc: *const u8| unsafe {
        hwsim_softmax_v_mx(
            c.ptr(),
            2,
            kv,
            8,
            formats[0],
            formats[1],
            formats[2],
            er,
            qk.as_ptr(),
            vs.as_ptr(),
            vc,
            null_mut(),
            null_mut(),
            null_mut(),
            codes_p,
            null_mut(),
            null_mut(),
            out_p,
            null_mut(),
        )
    };
    let (fe, fv, floor, dflt) = (
        HWSIM_MX_MXFP8_E4M3,
        HWSIM_MX_MXFP4_E2M1,
        HWSIM_SCALE_FLOOR,
        HWSIM_ROUND_FORMAT_DEFAULT,
    );
    let cases: [(&Ctx, [u32; 3], u32, usize, &str); 7] = [
        (
            &reference,
            [6, fv, floor],
            dflt,
            40,
            "hwsim_softmax_v_mx: exp_format = 6 is not an MX format code",
        ),
        (
            &reference,
            [fe, 7, floor],
            dflt,
            40,
            "hwsim_softmax_v_mx: v_format = 7 is not an MX format code",
        ),
        (
            &reference,
            [fe, fv, 4],
            dflt,
            40,
            "hwsim_softmax_v_mx: scale_rule = 4 is not a scale-rule code",
        ),
        (
            &reference,
            [fe, fv, floor],
            HWSIM_ROUND_TOWARD_POS,
            40,
            "hwsim_softmax_v_mx: element_rounding = 3: the quantizer rounds elements with",
        ),
        (
            &reference,
            [fe, fv, floor],
            dflt,
            0,
            "hwsim_softmax_v_mx: kv is 0 (must be at least 1)",
        ),
        (
            &narrow,
            [fe, fv, floor],
            dflt,
            40,
            "hwsim_softmax_v_mx: exp format mxfp8-e4m3 and v format mxfp4-e2m1 under rule floor: the gevm of MX formats other than the dataset's",
        ),
        (
            &narrow,
            [HWSIM_MX_MXINT8, HWSIM_MX_MXINT8, HWSIM_SCALE_RCEIL],
            dflt,
            40,
            "(the context is 'narrow')",
        ),
    ];
    for (c, formats, er, kv, msg) in cases {
        assert_eq!(
            call(c, formats, er, kv, vc.as_ptr()),
            HWSIM_ERR_INVALID_ARGUMENT,
            "{msg}"
        );
        assert!(
            last_error().contains(msg),
            "{} does not contain {msg}",
            last_error()
        );
    }
    assert_eq!(
        call(&reference, [fe, fv, floor], dflt, 40, null()),
        HWSIM_ERR_INVALID_ARGUMENT
    );
    assert_eq!(last_error(), "hwsim_softmax_v_mx: v_codes is NULL");
    // A code wider than MXFP4's 4 bits; then nonzero padding: block (head 0, block 1, column 5)
    // is grid index 13, its lanes 8.. are past kv = 40.
    vc[3] = 0x10;
    assert_eq!(
        call(&reference, [fe, fv, floor], dflt, 40, vc.as_ptr()),
        HWSIM_ERR_INVALID_ARGUMENT
    );
    assert!(
        last_error().starts_with(
            "hwsim_softmax_v_mx: v_codes[3] = 0x10 (block 0, element 3) is not a mxfp4-e2m1 code"
        ),
        "{}",
        last_error()
    );
    vc[3] = 0;
    vc[13 * 32 + 30] = 1;
    assert_eq!(
        call(&reference, [fe, fv, floor], dflt, 40, vc.as_ptr()),
        HWSIM_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        last_error(),
        "hwsim_softmax_v_mx: v_codes: block 13 has a nonzero padding element 30 (kv index 62 is past kv = 40); padding must be zero"
    );
    vc[13 * 32 + 30] = 0;
    assert_eq!(out, vec![0x1234; 16], "a failed call wrote an output");
    assert_eq!(codes, vec![0x55; 128], "a failed call wrote an output");
    // The same arrays are fine for the reference context; the narrow one runs the dataset's
    // formats (its MAC array), given MXINT8 elements.
    assert_eq!(
        call(&reference, [fe, fv, floor], dflt, 40, vc.as_ptr()),
        HWSIM_OK,
        "{}",
        last_error()
    );
    let mxint8 = Params {
        formats: sim::softmax::Formats {
            exp: int8,
            v: int8,
            rule: ScaleRule::Floor,
        },
        ..p
    };
    let (_, vi) = mx_data_flat(&Inputs::generate(40, 0, &mxint8).v);
    assert_eq!(
        call(
            &narrow,
            [HWSIM_MX_MXINT8, HWSIM_MX_MXINT8, floor],
            dflt,
            40,
            vi.as_ptr()
        ),
        HWSIM_OK,
        "{}",
        last_error()
    );
}
