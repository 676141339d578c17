//! Every quantizer this processor runs against the definitions (`MxInt8Block::quantize`,
//! `MxFormat::quantize`), block and flags: every BF16 pattern as the block amax (with random
//! smaller elements, and alone in partial blocks), random blocks (FP32 subnormals, values on and
//! beside the rounding ties, every partial length), and inf/NaN at every position; all five
//! rounding modes, and for the MX formats every scale rule.

use hw_types::{Fp32, MxFormat, MxInt8Block, RoundingMode, ScaleRule, MX_FORMATS};
use hw_units::quantize::Quantizer;

/// SplitMix64: a small reproducible generator.
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
    /// A finite FP32 whose magnitude's bit pattern is at most `abs`, random sign.
    fn at_most(&mut self, abs: u32) -> Fp32 {
        let a = self.below(u64::from(abs) + 1) as u32;
        Fp32(a | (self.next() as u32 & 0x8000_0000))
    }
    /// A finite FP32 of every kind: a random exponent field (0 for subnormals and zeros), and a
    /// fraction that is often short (so the value lies on a rounding tie of a coarse grid) or one
    /// unit beside such a value.
    fn finite(&mut self) -> Fp32 {
        let sign = self.next() as u32 & 0x8000_0000;
        let exp = match self.below(4) {
            0 => self.below(255) as u32,
            // Near one block exponent, so the elements share it.
            _ => 120 + self.below(10) as u32,
        };
        let mut frac = self.next() as u32 & 0x7f_ffff;
        if self.below(2) == 0 {
            let keep = self.below(10) as u32;
            frac &= !((1 << (23 - keep)) - 1);
            frac = match self.below(3) {
                0 => frac,
                1 => frac.wrapping_add(1) & 0x7f_ffff,
                _ => frac.wrapping_sub(1) & 0x7f_ffff,
            };
        }
        if self.below(16) == 0 {
            return Fp32(sign);
        }
        Fp32(sign | exp << 23 | frac)
    }
    /// An inf or NaN pattern.
    fn non_finite(&mut self) -> Fp32 {
        let frac = if self.below(2) == 0 {
            0
        } else {
            1 + self.below(0x7f_ffff) as u32
        };
        Fp32(self.next() as u32 & 0x8000_0000 | 0x7f80_0000 | frac)
    }
}

fn vectors() -> Vec<Quantizer> {
    Quantizer::available()
        .into_iter()
        .filter(|&q| q != Quantizer::PORTABLE)
        .collect()
}

fn hex(values: &[Fp32]) -> Vec<String> {
    values.iter().map(|v| format!("{:08x}", v.0)).collect()
}

fn check_int8(qs: &[Quantizer], values: &[Fp32], mode: RoundingMode) {
    let want = MxInt8Block::quantize(values, mode);
    for q in qs {
        let got = q.mxint8(values, mode);
        if got != want {
            panic!(
                "{} mxint8 {mode} on {:?}: got {got:?}, want {want:?}",
                q.name(),
                hex(values)
            );
        }
    }
}

fn check_mx(
    qs: &[hw_units::quantize::MxQuantizer],
    f: &MxFormat,
    rule: ScaleRule,
    mode: RoundingMode,
    values: &[Fp32],
) {
    let want = f.quantize(values, rule, mode);
    for q in qs {
        let got = q.quantize(values);
        if got != want {
            panic!(
                "{q:?} {} {} {mode} on {:?}: got {got:?}, want {want:?}",
                f.name,
                rule.name(),
                hex(values)
            );
        }
    }
}

/// Blocks with the BF16 pattern `p` as amax: among 31 random smaller elements, alone, and at the
/// end of a partial block of signed zeros.
fn bf16_blocks(p: u16, rng: &mut Rng, mut each: impl FnMut(&[Fp32])) {
    let x = Fp32(u32::from(p) << 16);
    let abs = x.0 & 0x7fff_ffff;
    let below = abs.min(0x7f7f_ffff);
    let mut block: Vec<Fp32> = (0..32).map(|_| rng.at_most(below)).collect();
    block[usize::from(p) % 32] = x;
    each(&block);
    each(&[x]);
    let len = 1 + usize::from(p) % 32;
    let mut partial: Vec<Fp32> = (0..len)
        .map(|_| Fp32(rng.next() as u32 & 0x8000_0000))
        .collect();
    partial[len - 1] = x;
    each(&partial);
}

/// Random blocks of every length, some with an inf or NaN somewhere.
fn random_blocks(seed: u64, count: usize, mut each: impl FnMut(&[Fp32])) {
    let mut rng = Rng(seed);
    each(&[]);
    for i in 0..count {
        let len = if i % 2 == 0 {
            32
        } else {
            rng.below(33) as usize
        };
        let mut block: Vec<Fp32> = (0..len).map(|_| rng.finite()).collect();
        if len > 0 && rng.below(8) == 0 {
            let at = rng.below(len as u64) as usize;
            block[at] = rng.non_finite();
        }
        each(&block);
    }
}

#[test]
fn the_quantizers_are_portable_and_every_vector_one_this_processor_runs() {
    let names: Vec<&str> = Quantizer::available()
        .into_iter()
        .map(Quantizer::name)
        .collect();
    assert_eq!(names[0], "portable");
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(
            names.contains(&"avx2"),
            std::is_x86_feature_detected!("avx2")
        );
        assert_eq!(
            names.contains(&"avx512"),
            std::is_x86_feature_detected!("avx512f")
        );
    }
    assert!(names.contains(&Quantizer::best().name()));
}

#[test]
fn mxint8_matches_the_definition_for_every_bf16_pattern_as_amax() {
    let qs = vectors();
    let mut rng = Rng(1);
    for p in 0..=u16::MAX {
        for mode in RoundingMode::ALL {
            bf16_blocks(p, &mut rng, |b| check_int8(&qs, b, mode));
        }
    }
}

#[test]
fn mxint8_matches_the_definition_on_random_blocks() {
    let qs = vectors();
    for mode in RoundingMode::ALL {
        random_blocks(2, 200_000, |b| check_int8(&qs, b, mode));
    }
}

#[test]
fn mxint8_matches_the_definition_with_inf_or_nan_at_every_position() {
    let qs = vectors();
    let mut rng = Rng(3);
    for len in 1..=32 {
        for at in 0..len {
            for special in [0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xff80_0001] {
                let mut block: Vec<Fp32> = (0..len).map(|_| rng.finite()).collect();
                block[at] = Fp32(special);
                for mode in RoundingMode::ALL {
                    check_int8(&qs, &block, mode);
                }
            }
        }
    }
}

fn mx_quantizers(
    f: &MxFormat,
    rule: ScaleRule,
    mode: RoundingMode,
) -> Vec<hw_units::quantize::MxQuantizer> {
    vectors().into_iter().map(|q| q.mx(f, rule, mode)).collect()
}

#[test]
fn every_mx_format_matches_the_definition_for_every_bf16_pattern_as_amax() {
    let mut rng = Rng(4);
    for f in MX_FORMATS {
        for rule in ScaleRule::ALL {
            for mode in RoundingMode::ALL {
                let qs = mx_quantizers(&f, rule, mode);
                for p in 0..=u16::MAX {
                    bf16_blocks(p, &mut rng, |b| check_mx(&qs, &f, rule, mode, b));
                }
            }
        }
    }
}

#[test]
fn every_mx_format_matches_the_definition_on_random_blocks() {
    for f in MX_FORMATS {
        for rule in ScaleRule::ALL {
            for mode in RoundingMode::ALL {
                let qs = mx_quantizers(&f, rule, mode);
                random_blocks(5 + f.row() as u64, 20_000, |b| {
                    check_mx(&qs, &f, rule, mode, b)
                });
            }
        }
    }
}

#[test]
fn every_mx_format_matches_the_definition_with_inf_or_nan_at_every_position() {
    let mut rng = Rng(6);
    for f in MX_FORMATS {
        let qs = mx_quantizers(&f, ScaleRule::Floor, f.default_rounding);
        for len in 1..=32 {
            for at in 0..len {
                let mut block: Vec<Fp32> = (0..len).map(|_| rng.finite()).collect();
                block[at] = rng.non_finite();
                check_mx(&qs, &f, ScaleRule::Floor, f.default_rounding, &block);
            }
        }
    }
}

#[test]
#[should_panic(expected = "at most 32 values")]
fn a_block_of_33_values_is_refused() {
    let _ = Quantizer::best().mxint8(&[Fp32(0); 33], RoundingMode::NearestEven);
}
