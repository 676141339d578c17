//! Memory an operation needs, checked before it starts.
//!
//! Rust aborts the process when an allocation fails, and a simulator running inside a testbench
//! or a long regression must get an error instead. Every door (the CLI, libhwsim, the Python
//! package) therefore sizes an operation's large buffers from its shapes before computing, and
//! reserves that much address space with `try_reserve` (released at once, never touched, so it
//! costs no pages): if the reservation fails, the operation is refused with [`OutOfMemory`]
//! naming the size; if it succeeds, the buffers the operation then allocates fit in what was
//! just available. The estimates in the callers are upper bounds of the peak (measured with
//! `/usr/bin/time -v` and kept with a margin; docs/testing.md).

use std::fmt;

/// An operation's buffers could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    /// Bytes asked for (`u128::MAX` when the size itself overflows `u128`).
    pub bytes: u128,
    pub what: String,
}

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bytes > u64::MAX as u128 {
            write!(
                f,
                "{} needs more memory than a 64-bit address space holds",
                self.what
            )
        } else {
            write!(
                f,
                "cannot allocate {} bytes ({}) for {}",
                self.bytes,
                human(self.bytes),
                self.what
            )
        }
    }
}

impl std::error::Error for OutOfMemory {}

fn human(bytes: u128) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// A byte count built from element counts; saturates instead of wrapping, so a size that does
/// not fit is refused rather than computed modulo 2^n.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need(u128);

impl Need {
    pub const fn new() -> Need {
        Need(0)
    }

    /// Adds `size` bytes for each element of a tensor of shape `dims` (the product computed
    /// without wrapping; an empty tensor adds nothing).
    #[must_use]
    pub fn add(self, dims: &[usize], size: usize) -> Need {
        if dims.contains(&0) || size == 0 {
            return self;
        }
        let part = dims
            .iter()
            .try_fold(size as u128, |n, &d| n.checked_mul(d as u128));
        Need(
            part.and_then(|p| self.0.checked_add(p))
                .unwrap_or(u128::MAX),
        )
    }

    /// The need of `n` such operations at once (one per worker thread).
    #[must_use]
    pub fn times(self, n: usize) -> Need {
        Need(self.0.saturating_mul(n as u128))
    }

    pub fn bytes(self) -> u128 {
        self.0
    }

    /// Reserves the bytes and releases them: `Err` when they cannot be had now.
    pub fn check(self, what: &str) -> Result<(), OutOfMemory> {
        let refuse = || OutOfMemory {
            bytes: self.0,
            what: what.to_string(),
        };
        let bytes = usize::try_from(self.0).map_err(|_| refuse())?;
        // Above isize::MAX no allocation can exist; try_reserve reports that as an error too.
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| refuse())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_saturate_instead_of_wrapping() {
        assert_eq!(Need::new().add(&[3], 4).add(&[1], 1).bytes(), 13);
        assert_eq!(Need::new().add(&[2, 3, 5], 7).bytes(), 210);
        let huge = [usize::MAX, usize::MAX, usize::MAX];
        assert_eq!(Need::new().add(&huge, 2).bytes(), u128::MAX);
        assert_eq!(Need::new().add(&[0, usize::MAX], 8).bytes(), 0);
        assert_eq!(Need::new().add(&huge, 1).add(&[1], 1).bytes(), u128::MAX);
    }

    #[test]
    fn an_impossible_size_is_an_error_not_an_abort() {
        let e = Need::new()
            .add(&[usize::MAX / 2], 4)
            .check("a test")
            .unwrap_err();
        assert!(e.to_string().contains("a test"), "{e}");
        let e = Need::new()
            .add(&[1 << 60, 1 << 60], 2)
            .check("huge")
            .unwrap_err();
        assert!(e.to_string().contains("64-bit address space"), "{e}");
        Need::new().add(&[1 << 20], 1).check("one MiB").unwrap();
    }
}
