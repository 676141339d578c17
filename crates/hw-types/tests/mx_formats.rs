//! The MX format table and quantizer against a deliberately simpler oracle: element values from
//! the textbook formula in f64, rounding by searching the sorted list of every code's value, the
//! scale rules by f64 comparisons with powers of two (every value here is exact in f64). All
//! 65,536 BF16 patterns are the amax of a block, for every format, rule and element rounding.

use hw_types::mx::{block_sum, BlockSum, MxBlock, MxFormat, ScaleRule, MXINT8, MX_FORMATS};
use hw_types::{E8m0, Fp32, MxInt8Block, RoundingMode, Status, Value, BLOCK};

/// (sign, exponent, fraction) widths and bias of an FP element format, from the OCP table.
fn layout(name: &str) -> (u32, u32, i32) {
    match name {
        "mxfp8-e4m3" => (4, 3, 7),
        "mxfp8-e5m2" => (5, 2, 15),
        "mxfp6-e3m2" => (3, 2, 3),
        "mxfp6-e2m3" => (2, 3, 1),
        "mxfp4-e2m1" => (2, 1, 1),
        _ => unreachable!(),
    }
}

/// The value of an element code by the formula, `None` for NaN, +-inf as f64 infinities.
fn value(f: &MxFormat, code: u8) -> Option<f64> {
    if f.name == "mxint8" {
        return Some(code as i8 as f64 / 64.0);
    }
    let (e, m, bias) = layout(f.name);
    let neg = code >> (e + m) & 1 == 1;
    let ef = (code >> m) as u32 & ((1 << e) - 1);
    let mf = code as u32 & ((1 << m) - 1);
    let all_ones = ef == (1 << e) - 1;
    match f.name {
        "mxfp8-e5m2" if all_ones && mf == 0 => return Some(if neg { -1.0 } else { 1.0 } / 0.0),
        "mxfp8-e5m2" if all_ones => return None,
        "mxfp8-e4m3" if all_ones && mf == (1 << m) - 1 => return None,
        _ => {}
    }
    let mag = if ef == 0 {
        mf as f64 / (1 << m) as f64 * 2f64.powi(1 - bias)
    } else {
        (1.0 + mf as f64 / (1 << m) as f64) * 2f64.powi(ef as i32 - bias)
    };
    Some(if neg { -mag } else { mag })
}

const MAX_NORMAL: [(&str, f64); 6] = [
    ("mxint8", 127.0 / 64.0),
    ("mxfp8-e4m3", 448.0),
    ("mxfp8-e5m2", 57344.0),
    ("mxfp6-e3m2", 28.0),
    ("mxfp6-e2m3", 7.5),
    ("mxfp4-e2m1", 6.0),
];

fn max_normal(f: &MxFormat) -> f64 {
    MAX_NORMAL.iter().find(|(n, _)| *n == f.name).unwrap().1
}

/// floor(log2 x) for a positive finite f64.
fn floor_log2(x: f64) -> i32 {
    let mut e = x.log2().floor() as i32;
    while 2f64.powi(e) > x {
        e -= 1;
    }
    while 2f64.powi(e + 1) <= x {
        e += 1;
    }
    e
}

fn oracle_exponent(f: &MxFormat, amax: f64, rule: ScaleRule) -> i32 {
    let emax = floor_log2(max_normal(f));
    let fl = floor_log2(amax);
    let e = match rule {
        ScaleRule::Floor => fl - emax,
        ScaleRule::Ceil => fl + i32::from(2f64.powi(fl) != amax) - emax,
        ScaleRule::Even => {
            // Round amax to mbits fraction bits, ties away, by scaling to an integer.
            let mbits = if f.name == "mxint8" {
                6
            } else {
                layout(f.name).1
            };
            let scaled = amax / 2f64.powi(fl - mbits as i32);
            let r = (scaled + 0.5).floor();
            floor_log2(r * 2f64.powi(fl - mbits as i32)) - emax
        }
        ScaleRule::Rceil => {
            let mut e = fl - emax - 2;
            while amax > max_normal(f) * 2f64.powi(e) {
                e += 1;
            }
            e
        }
    };
    e.clamp(-127, 127)
}

/// Every finite code value of a format, sorted, with its code.
fn codes(f: &MxFormat) -> Vec<(f64, u8)> {
    let mut v: Vec<(f64, u8)> = (0..1u16 << f.width)
        .map(|c| c as u8)
        .filter(|&c| !(f.name == "mxint8" && c == 0x80))
        .filter_map(|c| value(f, c).filter(|x| x.is_finite()).map(|x| (x, c)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// `y` rounded to the nearest code (ties: even code for nearest-even, larger magnitude for
/// nearest-away), saturating; a zero keeps the sign of y (FP formats).
fn oracle_element(f: &MxFormat, table: &[(f64, u8)], y: f64, mode: RoundingMode) -> u8 {
    let i = table.partition_point(|&(v, _)| v < y);
    let pick = if i == 0 {
        table[0]
    } else if i == table.len() {
        table[i - 1]
    } else {
        let (lo, hi) = (table[i - 1], table[i]);
        let (dl, dh) = (y - lo.0, hi.0 - y);
        if dl < dh {
            lo
        } else if dh < dl {
            hi
        } else {
            match mode {
                RoundingMode::NearestAway => {
                    if lo.0.abs() > hi.0.abs() {
                        lo
                    } else {
                        hi
                    }
                }
                // Even: the code with a zero last fraction bit; for mxint8 an even integer.
                _ => {
                    if lo.1 & 1 == 0 {
                        lo
                    } else {
                        hi
                    }
                }
            }
        }
    };
    if pick.0 == 0.0 {
        if f.name == "mxint8" {
            return 0;
        }
        let sign = 1u8 << (f.width - 1);
        return if y.is_sign_negative() { sign } else { 0 };
    }
    pick.1
}

/// A block whose amax is `x` (a finite BF16 pattern as FP32), with elements spread below it.
fn block_for(x: f32) -> Vec<Fp32> {
    let parts = [
        1.0f32,
        -0.75,
        0.5078125,
        -1.0 / 3.0,
        0.1,
        -0.0,
        0.0625 + 1.0 / 1024.0,
    ];
    let mut v: Vec<Fp32> = parts.iter().map(|p| Fp32::from_f32(x * p)).collect();
    v.push(Fp32::from_f32(-0.0));
    v.push(Fp32(1)); // the smallest FP32 subnormal
    v
}

#[test]
fn every_bf16_amax_every_format_rule_and_rounding_matches_the_oracle() {
    for f in MX_FORMATS {
        let table = codes(&f);
        for rule in ScaleRule::ALL {
            for mode in [RoundingMode::NearestEven, RoundingMode::NearestAway] {
                for p in 0..=0x7f7fu16 {
                    let x = f32::from_bits((p as u32) << 16);
                    let vals = block_for(x);
                    let got = f.quantize(&vals, rule, mode).value;
                    let amax = vals
                        .iter()
                        .map(|v| (v.to_f32() as f64).abs())
                        .fold(0.0, f64::max);
                    let e = if amax == 0.0 {
                        -127
                    } else {
                        oracle_exponent(&f, amax, rule)
                    };
                    assert_eq!(
                        got.scale,
                        E8m0::from_exponent(e),
                        "{} {} {:?} amax {amax:e}",
                        f.name,
                        rule.name(),
                        mode
                    );
                    for (i, v) in vals.iter().enumerate() {
                        let y = v.to_f32() as f64 / 2f64.powi(e);
                        let want = oracle_element(&f, &table, y, mode);
                        assert_eq!(
                            got.codes[i],
                            want,
                            "{} {} {mode:?} x {:e} element {i} y {y:e}",
                            f.name,
                            rule.name(),
                            v.to_f32()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn floor_with_mxint8_is_todays_quantizer() {
    for p in 0..=u16::MAX {
        let x = f32::from_bits((p as u32) << 16);
        let vals = block_for(x);
        for mode in [RoundingMode::NearestEven, RoundingMode::NearestAway] {
            let old = MxInt8Block::quantize(&vals, mode);
            let new = MXINT8.quantize(&vals, ScaleRule::Floor, mode);
            assert_eq!(old.status, new.status, "{p:#06x}");
            assert_eq!(old.value.scale, new.value.scale, "{p:#06x}");
            assert_eq!(
                old.value.elems.map(|q| q as u8),
                new.value.codes,
                "{p:#06x}"
            );
        }
    }
}

#[test]
fn every_code_decodes_to_the_formula() {
    for f in MX_FORMATS {
        for c in 0..1u16 << f.width {
            let c = c as u8;
            let want = value(&f, c);
            match (f.decode(c), want) {
                (Value::NaN, None) => {}
                (Value::Inf { neg }, Some(w)) if w.is_infinite() => assert_eq!(neg, w < 0.0),
                (Value::Zero { neg }, Some(w)) if w == 0.0 => {
                    assert_eq!(neg, w.is_sign_negative() && f.name != "mxint8")
                }
                (Value::Finite(d), Some(w)) => {
                    let got = d.sig as f64 * 2f64.powi(d.exp) * if d.neg { -1.0 } else { 1.0 };
                    assert_eq!(got, w, "{} code {c:#x}", f.name);
                }
                (g, w) => panic!("{} code {c:#x}: {g:?} vs {w:?}", f.name),
            }
        }
        // The largest code value is the table's max normal.
        let table = codes(&f);
        assert_eq!(table.last().unwrap().0, max_normal(&f), "{}", f.name);
        let (sig, exp) = f.max_normal;
        assert_eq!(sig as f64 * 2f64.powi(exp), max_normal(&f), "{}", f.name);
    }
}

#[test]
fn specials_and_flags() {
    let e4m3 = MxFormat::from_name("mxfp8-e4m3").unwrap();
    // inf or NaN anywhere: the NaN block.
    let r = e4m3.quantize(
        &[Fp32(0x3f80_0000), Fp32(0x7f80_0000)],
        ScaleRule::Floor,
        RoundingMode::NearestEven,
    );
    assert_eq!((r.value.scale, r.value.codes), (E8m0::NAN, [0; BLOCK]));
    assert_eq!(r.status, Status::INVALID);
    // An all-zero block: E = -127, signs kept.
    let r = e4m3.quantize(
        &[Fp32::from_f32(-0.0), Fp32(0)],
        ScaleRule::Rceil,
        RoundingMode::NearestEven,
    );
    assert_eq!(r.value.scale, E8m0(0));
    assert_eq!(r.value.codes[..2], [0x80, 0x00]);
    assert_eq!(r.status, Status::OK);
    // floor: 480 = 1.875 * 2^8 with E = 0 rounds past 448 (the NaN code's value): saturates.
    let r = e4m3.quantize(
        &[Fp32::from_f32(480.0)],
        ScaleRule::Floor,
        RoundingMode::NearestEven,
    );
    assert_eq!(r.value.codes[0], 0x7e);
    assert!(r.status.contains(Status::OVERFLOW | Status::INEXACT));
    // rceil never saturates: 480 gets E = 1.
    let r = e4m3.quantize(
        &[Fp32::from_f32(480.0)],
        ScaleRule::Rceil,
        RoundingMode::NearestEven,
    );
    assert_eq!(r.value.scale, E8m0(128));
    assert_eq!(r.status, Status::OK);
    // A negative value that rounds to zero gives -0 and underflow.
    let r = e4m3.quantize(
        &[Fp32::from_f32(256.0), Fp32::from_f32(-2f32.powi(-12))],
        ScaleRule::Floor,
        RoundingMode::NearestEven,
    );
    assert_eq!(r.value.codes[1], 0x80);
    assert!(r.status.contains(Status::UNDERFLOW | Status::INEXACT));
}

#[test]
fn block_sums_are_exact_and_follow_ieee_for_specials() {
    let e5m2 = MxFormat::from_name("mxfp8-e5m2").unwrap();
    let e2m1 = MxFormat::from_name("mxfp4-e2m1").unwrap();
    let mut a = MxBlock {
        scale: E8m0(127 + 3),
        codes: [0; BLOCK],
    };
    let mut b = MxBlock {
        scale: E8m0(127 - 1),
        codes: [0; BLOCK],
    };
    // 57344 * 6 * 2^(3 - 1) and (-2^-16) * 0.5 * 2^2.
    a.codes[0] = 0x7b;
    b.codes[0] = 0x7;
    a.codes[1] = 0x81;
    b.codes[1] = 0x1;
    let BlockSum::Finite { int, exp } = block_sum(&e5m2, &a, &e2m1, &b) else {
        panic!()
    };
    let want = 57344.0 * 6.0 * 4.0 - 2f64.powi(-16) * 0.5 * 4.0;
    assert_eq!(int as f64 * 2f64.powi(exp), want);
    // inf * 6 is inf; inf * 0 and inf - inf are invalid; a NaN code or scale is a quiet NaN,
    // also beside an invalid product.
    a.codes[0] = 0x7c;
    assert_eq!(
        block_sum(&e5m2, &a, &e2m1, &b),
        BlockSum::Inf { neg: false }
    );
    b.codes[0] = 0;
    assert_eq!(block_sum(&e5m2, &a, &e2m1, &b), BlockSum::Invalid);
    a.codes[3] = 0x7d;
    assert_eq!(block_sum(&e5m2, &a, &e2m1, &b), BlockSum::NaN);
    a.codes[3] = 0;
    b.codes[0] = 0x7;
    a.codes[2] = 0xfc;
    b.codes[2] = 0x1;
    assert_eq!(block_sum(&e5m2, &a, &e2m1, &b), BlockSum::Invalid);
    a.codes[2] = 0;
    b.scale = E8m0::NAN;
    assert_eq!(block_sum(&e5m2, &a, &e2m1, &b), BlockSum::NaN);
}

/// The quantizer's element tables against their definition (exact scaling, then the one
/// generic round_pack): every BF16 pattern, at every shared exponent that puts it in a binade
/// of the format (normals, subnormals, ties, saturation and underflow) or just outside, and at
/// the E8M0 extremes, in every rounding mode, value and flags.
#[test]
fn the_fast_element_path_equals_round_pack() {
    use hw_types::mx::{float_element_definition, Element, FloatElement};
    for f in MX_FORMATS {
        let Element::Float(spec) = f.element else {
            continue;
        };
        for p in 0..=u16::MAX {
            let x = Fp32((p as u32) << 16);
            if x.0 & 0x7f80_0000 == 0x7f80_0000 {
                continue;
            }
            let own = ((x.0 >> 23) & 0xff) as i32 - 127;
            // Every binade of the result from below half the smallest subnormal to past the
            // saturation point: `top = own - e`.
            let tops = spec.emin - f.mbits as i32 - 4..=f.emax + 3;
            let es = tops.map(|top| own - top).chain([-127, 127]);
            for e in es.filter(|e| (-127..=127).contains(e)) {
                for mode in RoundingMode::ALL {
                    let fast = FloatElement::new(&f, mode).convert(x, e);
                    let def = float_element_definition(&spec, x, e, mode);
                    assert_eq!(
                        (fast.value, fast.status),
                        (def.value, def.status),
                        "{} x {:#010x} e {e} {mode:?}",
                        f.name,
                        x.0
                    );
                }
            }
        }
    }
}

/// The same on full FP32 inputs (the Python and C doors pass FP32, whose low 16 bits BF16 never
/// sets, and FP32 subnormals with few significant bits): random patterns, any shared exponent.
#[test]
fn the_fast_element_path_equals_round_pack_on_fp32() {
    use hw_types::mx::{float_element_definition, Element, FloatElement};
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 32) as u32
    };
    for f in MX_FORMATS {
        let Element::Float(spec) = f.element else {
            continue;
        };
        for i in 0..200_000 {
            let mut x = Fp32(next());
            if i % 4 == 0 {
                x.0 &= 0x8000_00ff; // an FP32 subnormal with at most 8 significant bits
            }
            if x.0 & 0x7f80_0000 == 0x7f80_0000 {
                continue;
            }
            let e = (next() % 255) as i32 - 127;
            let mode = RoundingMode::ALL[i % RoundingMode::ALL.len()];
            let fast = FloatElement::new(&f, mode).convert(x, e);
            let def = float_element_definition(&spec, x, e, mode);
            assert_eq!(
                (fast.value, fast.status),
                (def.value, def.status),
                "{} x {:#010x} e {e} {mode:?}",
                f.name,
                x.0
            );
        }
    }
}

/// `FloatElement::table`, `low` and `binades` (which hw-units' vector quantizer gathers from)
/// give, at the index their doc comment states, the entry `convert` returns: random normal FP32
/// values at any shared exponent, every float format and rounding mode.
#[test]
fn the_element_table_accessors_index_as_documented() {
    use hw_types::mx::{Element, FloatElement};
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 32) as u32
    };
    for f in MX_FORMATS {
        if !matches!(f.element, Element::Float(_)) {
            continue;
        }
        for mode in RoundingMode::ALL {
            let element = FloatElement::new(&f, mode);
            let (table, low, binades) = (element.table(), element.low(), element.binades());
            assert_eq!(table.len(), 2 * binades as usize * 64, "{}", f.name);
            for _ in 0..20_000 {
                let x = next();
                let be = ((x >> 23) & 0xff) as i32;
                if be == 0 || be == 255 {
                    continue;
                }
                let e = (next() % 255) as i32 - 127;
                let t = (be - 127 - e - low).clamp(0, binades - 1);
                let neg = (x >> 31) as i32;
                let sticky = u32::from(x & 0x3_ffff != 0);
                let idx = ((neg * binades + t) << 6) as u32 | ((x >> 18) & 0x1f) << 1 | sticky;
                let entry = table[idx as usize];
                let r = element.convert(Fp32(x), e);
                assert_eq!(
                    (entry as u8, (entry >> 8) as u8),
                    (r.value, r.status.bits()),
                    "{} x {x:#010x} e {e} {mode:?}",
                    f.name
                );
            }
        }
    }
}
