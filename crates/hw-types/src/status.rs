//! Rounding modes and IEEE-754 status flags, returned with every rounded value
//! (the rustc_apfloat / Berkeley SoftFloat convention: status travels with the result,
//! there is no global flag register).

use std::fmt;
use std::ops::{BitOr, BitOrAssign};
use std::str::FromStr;

/// The five IEEE 754-2019 rounding-direction attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RoundingMode {
    /// roundTiesToEven: nearest, ties to an even last bit (RNE).
    #[default]
    NearestEven,
    /// roundTiesToAway: nearest, ties away from zero.
    NearestAway,
    /// roundTowardZero: truncate the magnitude.
    TowardZero,
    /// roundTowardPositive: ceiling.
    TowardPositive,
    /// roundTowardNegative: floor.
    TowardNegative,
}

impl RoundingMode {
    /// Every mode, for exhaustive tests and help texts.
    pub const ALL: [RoundingMode; 5] = [
        RoundingMode::NearestEven,
        RoundingMode::NearestAway,
        RoundingMode::TowardZero,
        RoundingMode::TowardPositive,
        RoundingMode::TowardNegative,
    ];

    /// The name used on the command line, in configs and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            RoundingMode::NearestEven => "nearest-even",
            RoundingMode::NearestAway => "nearest-away",
            RoundingMode::TowardZero => "toward-zero",
            RoundingMode::TowardPositive => "toward-pos",
            RoundingMode::TowardNegative => "toward-neg",
        }
    }

    /// Whether a value of sign `neg` whose discarded part is `half` (the first discarded bit) and
    /// `rest` (any lower discarded bit) is rounded up in magnitude, given the kept part's last bit `odd`.
    pub(crate) fn increments(self, neg: bool, odd: bool, half: bool, rest: bool) -> bool {
        match self {
            // `&` and `|`, not `&&` and `||`: the bits are random data, and a branch on them
            // is mispredicted half the time (the quantizer's hot loop).
            RoundingMode::NearestEven => half & (rest | odd),
            RoundingMode::NearestAway => half,
            RoundingMode::TowardZero => false,
            RoundingMode::TowardPositive => !neg & (half | rest),
            RoundingMode::TowardNegative => neg & (half | rest),
        }
    }

    /// Whether an overflow of sign `neg` goes to infinity (else to the largest finite value).
    pub(crate) fn overflows_to_infinity(self, neg: bool) -> bool {
        match self {
            RoundingMode::NearestEven | RoundingMode::NearestAway => true,
            RoundingMode::TowardZero => false,
            RoundingMode::TowardPositive => !neg,
            RoundingMode::TowardNegative => neg,
        }
    }
}

impl fmt::Display for RoundingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RoundingMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoundingMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = RoundingMode::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown rounding mode '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

impl serde::Serialize for RoundingMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for RoundingMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// IEEE-754 exception flags raised by one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Status(u8);

impl Status {
    pub const OK: Status = Status(0);
    pub const INEXACT: Status = Status(1);
    pub const UNDERFLOW: Status = Status(2);
    pub const OVERFLOW: Status = Status(4);
    pub const DIV_BY_ZERO: Status = Status(8);
    pub const INVALID: Status = Status(16);

    pub fn contains(self, other: Status) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
    pub fn inexact(self) -> bool {
        self.contains(Status::INEXACT)
    }
    pub fn underflow(self) -> bool {
        self.contains(Status::UNDERFLOW)
    }
    pub fn overflow(self) -> bool {
        self.contains(Status::OVERFLOW)
    }
    pub fn div_by_zero(self) -> bool {
        self.contains(Status::DIV_BY_ZERO)
    }
    pub fn invalid(self) -> bool {
        self.contains(Status::INVALID)
    }
}

impl BitOr for Status {
    type Output = Status;
    fn bitor(self, rhs: Status) -> Status {
        Status(self.0 | rhs.0)
    }
}

impl BitOrAssign for Status {
    fn bitor_assign(&mut self, rhs: Status) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Status::INEXACT, "inexact"),
            (Status::UNDERFLOW, "underflow"),
            (Status::OVERFLOW, "overflow"),
            (Status::DIV_BY_ZERO, "div_by_zero"),
            (Status::INVALID, "invalid"),
        ];
        let set: Vec<_> = names
            .iter()
            .filter(|(s, _)| self.contains(*s))
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            f.write_str("ok")
        } else {
            f.write_str(&set.join("|"))
        }
    }
}

/// A value together with the flags its computation raised.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusAnd<T> {
    pub value: T,
    pub status: Status,
}

impl<T> StatusAnd<T> {
    pub fn new(value: T, status: Status) -> Self {
        StatusAnd { value, status }
    }
}

impl Status {
    /// The raw bits (1 inexact, 2 underflow, 4 overflow, 8 div-by-zero, 16 invalid): the C ABI's
    /// and the Python package's flag word.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// The flags of raw bits; bits above the five flags are ignored.
    pub const fn from_bits(bits: u8) -> Status {
        Status(bits & 0x1f)
    }
}

/// How many results of a stage raised each flag (docs/dump-format.md, `flags` in manifest.json).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct FlagCounts {
    pub inexact: u64,
    pub underflow: u64,
    pub overflow: u64,
    pub div_by_zero: u64,
    pub invalid: u64,
}

impl FlagCounts {
    /// Count the flags of one result.
    #[inline]
    pub fn add(&mut self, s: Status) {
        self.inexact += s.inexact() as u64;
        self.underflow += s.underflow() as u64;
        self.overflow += s.overflow() as u64;
        self.div_by_zero += s.div_by_zero() as u64;
        self.invalid += s.invalid() as u64;
    }

    /// Counts over many results.
    pub fn of(statuses: impl IntoIterator<Item = Status>) -> FlagCounts {
        let mut c = FlagCounts::default();
        for s in statuses {
            c.add(s);
        }
        c
    }

    /// Every flag some result raised.
    pub fn any(&self) -> Status {
        let mut s = Status::OK;
        for (n, f) in [
            (self.inexact, Status::INEXACT),
            (self.underflow, Status::UNDERFLOW),
            (self.overflow, Status::OVERFLOW),
            (self.div_by_zero, Status::DIV_BY_ZERO),
            (self.invalid, Status::INVALID),
        ] {
            if n > 0 {
                s |= f;
            }
        }
        s
    }
}
