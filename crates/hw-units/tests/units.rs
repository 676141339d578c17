//! The configurable units: exhaustive proofs for the exact ROM/table units, independent oracles
//! for the accumulators, and config validation.

use hw_types::arith::recip;
use hw_types::transcendental::exp;
use hw_types::{Bf16, Format, Fp32, RoundingMode, StatusAnd, Value};
use hw_units::acc::Accumulator;
use hw_units::config::{AccKind, ExpKind, HwConfig, Overflow, RecipKind};
use hw_units::exp::ExpUnit;
use hw_units::recip::RecipUnit;
use proptest::prelude::*;

const RNE: RoundingMode = RoundingMode::NearestEven;

#[test]
fn exact_reciprocal_table_unit_is_correctly_rounded_for_all_65536_inputs() {
    let unit = RecipUnit::new(&RecipKind::Exact);
    for i in 0..=u16::MAX {
        let x = Bf16(i);
        assert_eq!(unit.eval(x), recip::<Bf16, Bf16>(x, RNE), "1/{x:?}");
    }
}

#[test]
fn exact_exp_rom_reproduces_the_reference_for_all_65536_inputs() {
    let unit = ExpUnit::new(&ExpKind::Exact);
    let rom = unit.rom();
    assert_eq!((rom.words.len(), rom.hex_digits()), (65536, 4));
    for i in 0..=u16::MAX {
        let want = exp::<Bf16, Bf16>(Bf16(i), RNE);
        assert_eq!(unit.eval(Bf16(i)), want);
        assert_eq!(rom.words[i as usize], want.value.0 as u64);
    }
}

#[test]
fn newton_and_pow2_units_are_close_to_the_reference() {
    let c = HwConfig::narrow();
    let e = ExpUnit::new(&c.exp.kind);
    let r = RecipUnit::new(&c.recip.kind);
    let ulps = |a: Bf16, b: Bf16| (a.0 as i32 - b.0 as i32).unsigned_abs();
    // Positive normal inputs in [2^-8, 8): within a few ulps of the correctly rounded value.
    for i in 0x3b80u16..0x4100 {
        let x = Bf16(i);
        assert!(
            ulps(e.eval(x).value, exp::<Bf16, Bf16>(x, RNE).value) <= 2,
            "e^{x:?}"
        );
        assert!(
            ulps(r.eval(x).value, recip::<Bf16, Bf16>(x, RNE).value) <= 1,
            "1/{x:?}"
        );
        let nx = Bf16(i | 0x8000);
        assert!(
            ulps(e.eval(nx).value, exp::<Bf16, Bf16>(nx, RNE).value) <= 2,
            "e^{nx:?}"
        );
    }
    assert_eq!(e.eval(Bf16::ZERO).value, Bf16(0x3f80));
    assert_eq!(e.eval(Bf16::NAN).value, Bf16::NAN);
    assert_eq!(e.eval(Bf16(0x4300)).value, Bf16::INFINITY); // 128
    assert_eq!(r.eval(Bf16::ZERO).value, Bf16::INFINITY);
    assert_eq!(r.eval(Bf16(0x3f80)).value, Bf16(0x3f80));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Sequential FP32 accumulation against the machine's own IEEE f32 addition.
    #[test]
    fn fp32_accumulator_matches_ieee_f32_addition(xs in prop::collection::vec(any::<u16>(), 1..64)) {
        let xs: Vec<Bf16> = xs.into_iter().map(|b| Bf16(b & 0x7fff | (b & 1) << 15)).filter(|x| x.is_finite()).collect();
        let mut acc = Accumulator::new(&AccKind::Fp32);
        let mut f = 0f32;
        for x in &xs {
            acc.add(x.value());
            f += x.to_fp32().to_f32();
        }
        let got: Bf16 = acc.finish(RNE).value;
        let want = half::bf16::from_f32(f);
        if f.is_nan() {
            prop_assert!(got.is_nan());
        } else {
            prop_assert_eq!(got.0, want.to_bits());
        }
    }

    /// With enough bits and on-grid addends the fixed accumulator is exact.
    #[test]
    fn wide_fixed_accumulator_is_exact_on_its_grid(xs in prop::collection::vec(-(1i64 << 30)..(1i64 << 30), 1..50)) {
        let kind = AccKind::Fixed { int_bits: 48, frac_bits: 16, overflow: Overflow::Saturate };
        let mut fixed = Accumulator::new(&kind);
        let mut exact = Accumulator::new(&AccKind::Exact);
        for &x in &xs {
            fixed.add_int(x, -16);
            exact.add_int(x, -16);
        }
        prop_assert_eq!(fixed.finish::<Fp32>(RNE), exact.finish::<Fp32>(RNE));
    }
}

#[test]
fn fixed_accumulator_truncates_saturates_and_wraps() {
    let sat = AccKind::Fixed {
        int_bits: 4,
        frac_bits: 2,
        overflow: Overflow::Saturate,
    };
    let wrap = AccKind::Fixed {
        int_bits: 4,
        frac_bits: 2,
        overflow: Overflow::Wrap,
    };
    let v = |x: f64| Bf16::from_f64(x, RNE).value.value();
    // 0.3 truncates (toward -inf) to 0.25; -0.3 to -0.5.
    let mut a = Accumulator::new(&sat);
    a.add(v(0.3));
    assert_eq!(a.finish::<Bf16>(RNE).value.to_f64(), 0.25);
    let mut a = Accumulator::new(&sat);
    a.add(v(-0.3));
    assert_eq!(a.finish::<Bf16>(RNE).value.to_f64(), -0.5);
    // Range of a 4.2 register: [-8, 7.75].
    let mut s = Accumulator::new(&sat);
    let mut w = Accumulator::new(&wrap);
    for _ in 0..3 {
        s.add(v(3.0));
        w.add(v(3.0));
    }
    assert_eq!(s.finish::<Bf16>(RNE).value.to_f64(), 7.75);
    assert_eq!(w.finish::<Bf16>(RNE).value.to_f64(), 9.0 - 16.0);
    let mut n = Accumulator::new(&sat);
    n.add(Value::NaN);
    assert!(n.finish::<Bf16>(RNE).value.is_nan());
    // Exact zeros (an all-zero block's add_int(0, e), +-0 inputs) add nothing and raise no flag.
    for kind in [&sat, &wrap] {
        let mut z = Accumulator::new(kind);
        z.add(v(1.5));
        z.add(Value::Zero { neg: true });
        z.add(Value::Zero { neg: false });
        z.add_int(0, 40);
        let r = z.finish::<Bf16>(RNE);
        assert_eq!((r.value.to_f64(), r.status), (1.5, hw_types::Status::OK));
    }
}

#[test]
fn configs_round_trip_and_reject_nonsense() {
    for name in HwConfig::PROFILES {
        let c = HwConfig::profile(name).unwrap();
        assert_eq!(HwConfig::from_json(&c.to_json()).unwrap(), c);
    }
    assert!(HwConfig::profile("fast")
        .unwrap_err()
        .contains("unknown profile 'fast'"));
    let mut j: serde_json::Value = serde_json::from_str(&HwConfig::reference().to_json()).unwrap();
    j["mac"]["colums"] = 3.into();
    let e = HwConfig::from_json(&j.to_string()).unwrap_err();
    assert!(e.contains("unknown field `colums`"), "{e}");
    // A parameter on a kind without parameters is not silently dropped.
    for (unit, key) in [
        ("exp", "table_bits"),
        ("reduce", "int_bits"),
        ("recip", "iterations"),
    ] {
        let mut j: serde_json::Value =
            serde_json::from_str(&HwConfig::reference().to_json()).unwrap();
        j[unit]["kind"][key] = 3.into();
        let e = HwConfig::from_json(&j.to_string()).unwrap_err();
        assert_eq!(e, format!("unknown field `{unit}.kind.{key}`"));
    }
    let mut c = HwConfig::reference();
    c.mac.block_lanes = 5;
    assert!(c
        .validate()
        .unwrap_err()
        .contains("mac.block_lanes must divide 32"));
    c = HwConfig::reference();
    c.reduce.kind = AccKind::Fixed {
        int_bits: 1,
        frac_bits: 8,
        overflow: Overflow::Wrap,
    };
    assert!(c
        .validate()
        .unwrap_err()
        .contains("reduce.kind.int_bits must be 2..=64"));
}

/// The kernels the comparison below runs are the ones this processor has: on an x86_64 with AVX2
/// (as the standard library detects it) that is the AVX2 kernel as well as the portable one, and
/// with AVX-512 F, BW and VNNI the AVX-512 VNNI kernel too, so the vector code is compared here
/// rather than silently left out.
#[test]
fn every_kernel_the_processor_runs_is_compared() {
    use hw_units::kernels::Kernel;
    #[cfg(target_arch = "x86_64")]
    let (avx2, vnni) = (
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni"),
    );
    #[cfg(not(target_arch = "x86_64"))]
    let (avx2, vnni) = (false, false);
    let names: Vec<&str> = Kernel::available().into_iter().map(Kernel::name).collect();
    let mut want = vec!["portable"];
    if avx2 {
        want.push("avx2");
    }
    if vnni {
        want.push("avx512-vnni");
    }
    assert_eq!(names, want);
    assert_eq!(Kernel::avx2().is_some(), avx2);
    assert_eq!(Kernel::avx512_vnni().is_some(), vnni);
    assert_eq!(Kernel::best().name(), *want.last().unwrap());
    eprintln!("kernels compared: {}", names.join(", "));
}

/// The MAC's fast paths (the pre-scaled integer GEMM with each kernel, its 64-bit rounding, the
/// accumulator's window) against the plain definition: one ExactAcc fed block by block, over
/// random and extreme scales and elements, and NaN scales.
#[test]
fn block_matmul_fast_paths_equal_the_plain_definition() {
    use hw_types::{E8m0, ExactAcc, MxInt8Block};
    let mut s = 99u64;
    let mut next = |n: u64| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % n
    };
    for trial in 0..220 {
        // Grids of 8 or more rows take the pre-scaled integer path when scales are close; the
        // last trials are its worst case for the i32 partial sums (every element -128, shifted
        // by the largest pre-scaling shift, over several chunks) and span several row groups
        // and column tiles.
        let extreme = trial >= 200;
        let m = if extreme {
            17 + next(20) as usize
        } else if trial % 2 == 0 {
            1 + next(4) as usize
        } else {
            8 + next(12) as usize
        };
        let (kb, n) = if extreme {
            (30 + next(80) as usize, 40 + next(30) as usize)
        } else {
            (1 + next(40) as usize, 1 + next(9) as usize)
        };
        let spread = if extreme {
            3
        } else {
            [1, 3, 4, 40, 254][trial % 5]
        };
        let mut block = |_| MxInt8Block {
            scale: E8m0(if extreme {
                // Mostly the top of a spread of 3 (so the pre-scaled elements are -1024).
                [124, 127, 127, 127][next(4) as usize]
            } else if next(400) == 0 {
                0xff
            } else {
                (127 - spread / 2 + next(spread + 1)) as u8
            }),
            elems: std::array::from_fn(|_| {
                if extreme && next(50) != 0 {
                    -128
                } else {
                    next(256) as u8 as i8
                }
            }),
        };
        let a: Vec<MxInt8Block> = (0..m * kb).map(&mut block).collect();
        let b: Vec<MxInt8Block> = (0..kb * n).map(&mut block).collect();
        for mode in RoundingMode::ALL {
            use hw_units::kernels::Kernel;
            use hw_units::mac::block_matmul_with;
            let dims = (m, kb, n);
            let fast: Vec<StatusAnd<Fp32>> =
                block_matmul_with(Kernel::best(), &a, &b, dims, &AccKind::Exact, mode);
            assert_eq!(
                hw_units::mac::block_matmul::<Fp32>(&a, &b, dims, &AccKind::Exact, mode),
                fast
            );
            for k in Kernel::available() {
                let other: Vec<StatusAnd<Fp32>> =
                    block_matmul_with(k, &a, &b, dims, &AccKind::Exact, mode);
                assert_eq!(
                    fast,
                    other,
                    "{} against {}",
                    Kernel::best().name(),
                    k.name()
                );
            }
            for r in 0..m {
                for c in 0..n {
                    let mut acc = ExactAcc::new();
                    for i in 0..kb {
                        match a[r * kb + i].dot(&b[i * n + c]) {
                            hw_types::BlockDot::NaN => acc.add_nan(),
                            hw_types::BlockDot::Value { dot, exp } => acc.add_int(dot as i64, exp),
                        }
                    }
                    let plain: StatusAnd<Fp32> = acc.round(mode);
                    assert_eq!(fast[r * n + c], plain, "trial {trial} ({r},{c}) {mode}");
                    // The cycle model's step, one block at a time.
                    let step = plain_output(&AccKind::Exact, &a, &b, (kb, n), (r, c), mode);
                    assert_eq!(step, plain, "trial {trial} ({r},{c})");
                }
            }
        }
    }
}

/// The vector block dot product against the definition (hw_types::mxint8::int_dot) and against
/// exact integers: every pair of int8 values in every lane position (with the rest of the block
/// all -128, all 127 or varied), and the extreme blocks.
#[test]
fn int_dot_vector_path_equals_the_definition() {
    use hw_types::mxint8::int_dot as definition;
    use hw_units::kernels::int_dot;
    let fills: [fn(usize) -> i8; 3] = [|_| -128, |_| 127, |i| (i as i32 * 37 - 100) as i8];
    for x in i8::MIN..=i8::MAX {
        for y in i8::MIN..=i8::MAX {
            let p = (x as u8 ^ y as u8) as usize % 32;
            let fill = fills[(x as u8 as usize + y as u8 as usize) % 3];
            let mut a: [i8; 32] = std::array::from_fn(fill);
            let mut b: [i8; 32] = std::array::from_fn(|i| fill(31 - i));
            a[p] = x;
            b[p] = y;
            let exact: i64 = a.iter().zip(&b).map(|(&u, &v)| u as i64 * v as i64).sum();
            assert_eq!(int_dot(&a, &b) as i64, exact, "{x} * {y} at {p}");
            assert_eq!(definition(&a, &b) as i64, exact);
        }
    }
    for (a, b) in [(-128, -128), (-128, 127), (127, 127), (0, -128)] {
        let exact = 32 * a as i32 * b as i32;
        assert_eq!(int_dot(&[a; 32], &[b; 32]), exact);
    }
}

/// The pow2-lut table entries, built from libm's f64 `exp2`, are the correctly rounded
/// `round_half_even(2^(entry_bits + j / 2^table_bits))` for every configuration validation
/// accepts (table_bits 1..=16, entry_bits 8..=30): checked against 192-bit evaluations, each
/// far enough from a rounding midpoint to be decided. So the documented definition is exact
/// math, not "whatever libm returns".
#[test]
fn pow2_lut_tables_are_correctly_rounded_for_every_valid_width() {
    use astro_float::{BigFloat, Consts, RoundingMode as Rm};
    let prec = 192;
    let mut cc = Consts::new().unwrap();
    let two = BigFloat::from_f64(2.0, prec);
    // 2^(j / 2^16) for j = 0..=2^16 covers every table_bits <= 16.
    let exact: Vec<BigFloat> = (0..=1u32 << 16)
        .map(|j| {
            two.pow(
                &BigFloat::from_f64(j as f64 / 65536.0, prec),
                prec,
                Rm::ToEven,
                &mut cc,
            )
        })
        .collect();
    let half = BigFloat::from_f64(0.5, prec);
    let margin = BigFloat::from_f64(2f64.powi(-120), prec);
    for b in 1..=16u32 {
        for w in 8..=30u32 {
            let kind = ExpKind::Pow2Lut {
                table_bits: b,
                entry_bits: w,
                frac_bits: 16.max(b),
                const_bits: 16,
                interpolate: true,
            };
            let rom = ExpUnit::new(&kind).rom();
            // The last entry, 2^(w+1), is the widest: the declared width is exactly its w + 2.
            assert_eq!(rom.word_bits, w + 2, "table_bits {b}, entry_bits {w}");
            assert_eq!(rom.words.last(), Some(&(1u64 << (w + 1))));
            let scale = BigFloat::from_f64(2f64.powi(w as i32), prec);
            for (j, &t) in rom.words.iter().enumerate() {
                let v = exact[j << (16 - b)].mul(&scale, prec, Rm::ToEven);
                // |v - t| < 1/2 by more than the margin (exact powers of two give 0).
                let diff = v.sub(&BigFloat::from_u64(t, prec), prec, Rm::ToEven).abs();
                let to_mid = half.sub(&diff, prec, Rm::ToEven);
                assert!(
                    to_mid > margin,
                    "table_bits {b}, entry_bits {w}, entry {j}: {t} is not round(2^(w + j/2^b))"
                );
            }
        }
    }
}

/// The plain definition of one output: the blocks of row `r` and column `c` accumulated one by
/// one, in block order, by an accumulator of `kind`, then rounded to FP32.
fn plain_output(
    kind: &AccKind,
    a: &[hw_types::MxInt8Block],
    b: &[hw_types::MxInt8Block],
    (kb, n): (usize, usize),
    (r, c): (usize, usize),
    mode: RoundingMode,
) -> StatusAnd<Fp32> {
    let mut acc = Accumulator::new(kind);
    for i in 0..kb {
        hw_units::mac::accumulate(&mut acc, &a[r * kb + i], &b[i * n + c]);
    }
    acc.finish(mode)
}

/// Grids the exact path pre-scales (8 rows or more, block scales within 3 of each other), with
/// rows that cannot be pre-scaled (a NaN scale, a spread of 5) scattered over three row groups:
/// every output equals its plain definition, for the exact accumulator and for FP32 and fixed
/// ones, whose intermediate roundings the pre-scaled exact sum must not replace. Row r's blocks
/// are 13 large products at 2^3 followed by three products of 1 at 2^0: an FP32 register
/// already holding about 2^25.9 drops each 1, the exact sum keeps all three.
#[test]
fn block_matmul_keeps_each_accumulators_order_on_pre_scaled_grids() {
    use hw_types::{E8m0, MxInt8Block};
    let (m, kb, n) = (40, 16, 9);
    let big = |e: i32| MxInt8Block {
        scale: E8m0::from_exponent(e),
        elems: [127; 32],
    };
    let one = |e: i32| {
        let mut elems = [0i8; 32];
        elems[0] = 1;
        MxInt8Block {
            scale: E8m0::from_exponent(e),
            elems,
        }
    };
    let mut a = Vec::new();
    for r in 0..m {
        for i in 0..kb {
            let mut blk = if i < 13 { big(3) } else { one(0) };
            if r % 6 == 1 && i == 5 {
                blk.scale = E8m0::NAN;
            }
            if r % 6 == 4 && i == 14 {
                blk.scale = E8m0::from_exponent(-2);
            }
            a.push(blk);
        }
    }
    let b: Vec<MxInt8Block> = (0..kb * n)
        .map(|k| {
            let mut blk = big(0);
            blk.elems[0] = 1;
            blk.elems[1] = if k % 2 == 0 { 5 } else { -7 };
            blk
        })
        .collect();
    let fixed = AccKind::Fixed {
        int_bits: 40,
        frac_bits: 6,
        overflow: Overflow::Wrap,
    };
    for kind in [AccKind::Exact, AccKind::Fp32, AccKind::Bf16, fixed] {
        for mode in [RNE, RoundingMode::TowardPositive] {
            let got = hw_units::mac::block_matmul::<Fp32>(&a, &b, (m, kb, n), &kind, mode);
            for r in 0..m {
                for c in 0..n {
                    let want = plain_output(&kind, &a, &b, (kb, n), (r, c), mode);
                    assert_eq!(got[r * n + c], want, "{kind:?} {mode} ({r},{c})");
                }
            }
        }
    }
    // The FP32 register really does differ from the exact sum here.
    let exact = plain_output(&AccKind::Exact, &a, &b, (kb, n), (0, 0), RNE);
    let fp32 = plain_output(&AccKind::Fp32, &a, &b, (kb, n), (0, 0), RNE);
    assert_ne!(exact.value, fp32.value);
}

/// The exported exact reciprocal ROM, decoded by its description's fields (q in bits 17:0, the
/// sticky bit in bit 18), against the table's definition for all 128 entries.
#[test]
fn exact_recip_rom_words_hold_q_and_sticky_where_the_description_says() {
    let rom = RecipUnit::new(&RecipKind::Exact).rom();
    assert_eq!((rom.words.len(), rom.word_bits), (128, 19));
    assert_eq!(rom.description["fields"]["q"], "bits 17:0");
    assert_eq!(rom.description["fields"]["sticky"], "bit 18");
    for (m, &w) in rom.words.iter().enumerate() {
        let (num, den) = (1u64 << 17 << 7, 128 + m as u64);
        let (q, sticky) = (w & ((1 << 18) - 1), w >> 18);
        assert_eq!(
            (q, sticky),
            (num / den, (num % den != 0) as u64),
            "entry {m}"
        );
    }
}

/// `$readmemh` text: one word per line, zero-padded to the description's `hex_digits`.
#[test]
fn rom_hex_is_one_padded_word_per_line() {
    use hw_units::rom::Rom;
    let rom = Rom::new(
        vec![0x1, 0x2000, 0x3fff],
        14,
        serde_json::json!({"unit": "t"}),
    );
    assert_eq!(rom.hex(), "0001\n2000\n3fff\n");
    assert_eq!(rom.description["hex_digits"], 4);
    let recip = RecipUnit::new(&RecipKind::Exact).rom();
    let hex = recip.hex();
    let lines: Vec<&str> = hex.lines().collect();
    assert_eq!((lines.len(), lines[0]), (128, "20000"));
    for (line, &w) in lines.iter().zip(&recip.words) {
        assert_eq!(u64::from_str_radix(line, 16), Ok(w));
        assert_eq!(line.len(), 5);
    }
}
