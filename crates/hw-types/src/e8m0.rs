//! The E8M0 shared scale of MX formats: an unsigned biased exponent, `0xff` is NaN.

/// An E8M0 scale byte: value `2^(byte - 127)`; `0xff` encodes NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct E8m0(pub u8);

impl E8m0 {
    pub const NAN: E8m0 = E8m0(0xff);
    pub const BIAS: i32 = 127;
    /// Smallest and largest unbiased exponents a finite scale can hold.
    pub const MIN_EXP: i32 = -127;
    pub const MAX_EXP: i32 = 127;

    pub fn is_nan(self) -> bool {
        self.0 == 0xff
    }
    /// The unbiased exponent, `None` for NaN.
    pub fn exponent(self) -> Option<i32> {
        (!self.is_nan()).then_some(self.0 as i32 - Self::BIAS)
    }
    /// The scale for an exponent, which must lie in `MIN_EXP..=MAX_EXP`.
    pub fn from_exponent(e: i32) -> E8m0 {
        assert!(
            (Self::MIN_EXP..=Self::MAX_EXP).contains(&e),
            "E8M0 exponent {e} outside -127..=127"
        );
        E8m0((e + Self::BIAS) as u8)
    }
}
