//! Correctly rounded arithmetic on binary float formats: one routine per operation, each forms
//! the exact result and hands it to [`round_pack`](crate::float::round_pack) once.

use crate::float::{Dyadic, Format, Value};
use crate::status::{RoundingMode, Status, StatusAnd};

/// `a * b`, correctly rounded. `inf * 0` is NaN with `invalid`; NaN operands give the canonical NaN.
pub fn mul<F: Format, G: Format, R: Format>(a: F, b: G, mode: RoundingMode) -> StatusAnd<R> {
    let exact = match (a.value(), b.value()) {
        (Value::NaN, _) | (_, Value::NaN) => Value::NaN,
        (Value::Inf { .. }, Value::Zero { .. }) | (Value::Zero { .. }, Value::Inf { .. }) => {
            return StatusAnd::new(R::nan(), Status::INVALID)
        }
        (Value::Inf { neg: x }, other) | (other, Value::Inf { neg: x }) => Value::Inf {
            neg: x ^ sign_of(&other),
        },
        (Value::Zero { neg: x }, other) | (other, Value::Zero { neg: x }) => Value::Zero {
            neg: x ^ sign_of(&other),
        },
        (Value::Finite(x), Value::Finite(y)) => {
            Value::Finite(Dyadic::exact(x.neg ^ y.neg, x.sig * y.sig, x.exp + y.exp))
        }
    };
    R::round(exact, mode)
}

fn sign_of(v: &Value) -> bool {
    match *v {
        Value::Zero { neg } | Value::Inf { neg } => neg,
        Value::Finite(d) => d.neg,
        Value::NaN => false,
    }
}

/// `1 / x`, correctly rounded. `1/+-0 = +-inf` with `div_by_zero`, `1/+-inf = +-0`.
pub fn recip<F: Format, R: Format>(x: F, mode: RoundingMode) -> StatusAnd<R> {
    match x.value() {
        Value::NaN => StatusAnd::new(R::nan(), Status::OK),
        Value::Zero { neg } => R::round(Value::Inf { neg }, mode).with(Status::DIV_BY_ZERO),
        Value::Inf { neg } => R::round(Value::Zero { neg }, mode),
        Value::Finite(d) => {
            // 2^K / sig keeps K - 24 >= 100 quotient bits for any sig < 2^24: far more than p + 2.
            const K: u32 = 125;
            assert!(d.sig < 1 << 24, "recip: significands up to 24 bits");
            let num = 1u128 << K;
            let q = num / d.sig;
            let r = num % d.sig;
            R::round(
                Value::Finite(Dyadic {
                    neg: d.neg,
                    sig: q,
                    exp: -(K as i32) - d.exp,
                    sticky: r != 0,
                }),
                mode,
            )
        }
    }
}

/// Convert between formats (exact value, one rounding).
pub fn convert<F: Format, R: Format>(x: F, mode: RoundingMode) -> StatusAnd<R> {
    R::round(x.value(), mode)
}

impl<T> StatusAnd<T> {
    /// Add flags to an already-rounded result.
    pub fn with(mut self, extra: Status) -> Self {
        self.status |= extra;
        self
    }
}
