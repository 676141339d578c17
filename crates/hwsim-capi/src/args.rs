//! C arguments to Rust values. Every pointer the library reads or writes passes through here, so
//! NULL, misalignment and impossible lengths become errors naming the argument, and the unsafe
//! code of the crate is this module plus the calls into it from the `extern "C"` functions.
//!
//! Outputs are checked before anything is computed and written only at the end ([`Out`]), so a
//! failing call leaves every output as it was.

use crate::codes::{HWSIM_ROUND_NEAREST_AWAY, HWSIM_ROUND_NEAREST_EVEN};
use crate::context::Context;
use crate::error::Result;
use hw_types::RoundingMode;
use std::ffi::{c_char, CStr};

/// Why a `len`-element array at `ptr` cannot be used, if it cannot.
fn check_array<T>(ptr: *const T, len: usize, name: &str) -> Result<()> {
    if ptr.is_null() {
        return Err(format!("{name} is NULL"));
    }
    if !ptr.is_aligned() {
        return Err(format!(
            "{name} ({ptr:p}) is not aligned to {} bytes",
            std::mem::align_of::<T>()
        ));
    }
    match len.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(format!(
            "{name}: {len} elements do not fit in the address space"
        )),
    }
}

/// The context behind a handle from `hwsim_open`.
///
/// # Safety
/// `ctx` is NULL or a pointer returned by `hwsim_open` and not yet closed.
pub unsafe fn context<'a>(ctx: *const Context) -> Result<&'a Context> {
    // SAFETY: non-NULL handles come from Box::into_raw in hwsim_open (caller's contract).
    unsafe { ctx.as_ref() }
        .ok_or_else(|| "ctx is NULL (hwsim_open failed or was not called)".into())
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
pub unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(format!("{name} is NULL"));
    }
    // SAFETY: non-NULL and NUL-terminated (caller's contract).
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map_err(|_| format!("{name} is not valid UTF-8: {}", s.to_string_lossy()))
}

/// An input array of `len` elements. NULL is an error whatever `len` is (docs/dpi.md: a NULL
/// array is an error in every function; the callers refuse a zero size before).
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` elements for the duration of the call.
pub unsafe fn input<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    check_array(ptr, len, name)?;
    // SAFETY: non-NULL, aligned, size within isize::MAX, readable (caller's contract).
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An output array, checked now and written by [`Out::write`] once the result is complete.
pub struct Out<T> {
    ptr: *mut T,
    len: usize,
}

impl<T: Copy> Out<T> {
    /// A required output of `len` elements.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for writes of `len` elements until the call returns.
    pub unsafe fn new(ptr: *mut T, len: usize, name: &str) -> Result<Out<T>> {
        check_array(ptr, len, name)?;
        Ok(Out { ptr, len })
    }

    /// An output the caller may leave out with NULL.
    ///
    /// # Safety
    /// As for [`Out::new`].
    pub unsafe fn optional(ptr: *mut T, len: usize, name: &str) -> Result<Option<Out<T>>> {
        if ptr.is_null() {
            return Ok(None);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { Out::new(ptr, len, name) }.map(Some)
    }

    /// Copy the finished result into the caller's array.
    ///
    /// # Panics
    /// When `src` does not have the array's length (a bug in this crate).
    pub fn write(self, src: &[T]) {
        assert_eq!(src.len(), self.len, "output length");
        // SAFETY: `ptr` was checked by `new` and is writable for `len` elements (its caller's
        // contract); `src` is this library's own buffer, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr, self.len) }
    }
}

/// Store a flag word if the caller asked for it (`flags` may be NULL).
///
/// # Safety
/// `flags` is NULL or valid for one aligned `uint32_t` write.
pub unsafe fn store_flags(flags: *mut u32, bits: u32) {
    if !flags.is_null() {
        // SAFETY: non-NULL and writable (caller's contract).
        unsafe { flags.write(bits) }
    }
}

/// The product of sizes, or an error naming them when it overflows `size_t`.
pub fn product(sizes: &[(usize, &str)]) -> Result<usize> {
    sizes
        .iter()
        .try_fold(1usize, |acc, &(x, _)| acc.checked_mul(x))
        .ok_or_else(|| {
            let names: Vec<_> = sizes.iter().map(|(_, n)| *n).collect();
            let values: Vec<_> = sizes.iter().map(|(x, _)| x.to_string()).collect();
            format!(
                "{} = {} overflows size_t",
                names.join(" x "),
                values.join(" x ")
            )
        })
}

/// A size that must be at least 1.
pub fn nonzero(value: usize, name: &str) -> Result<usize> {
    if value == 0 {
        Err(format!("{name} is 0 (must be at least 1)"))
    } else {
        Ok(value)
    }
}

/// A rounding-mode code (`HWSIM_ROUND_*`).
pub fn rounding(code: u32, name: &str) -> Result<RoundingMode> {
    RoundingMode::ALL
        .get(code as usize)
        .copied()
        .ok_or_else(|| format!("{name} = {code} is not a rounding code (HWSIM_ROUND_*, 0..=4)"))
}

/// The quantizer's element rounding: nearest-away or nearest-even, as `sim run` accepts.
pub fn element_rounding(code: u32, name: &str) -> Result<RoundingMode> {
    match code {
        HWSIM_ROUND_NEAREST_AWAY | HWSIM_ROUND_NEAREST_EVEN => rounding(code, name),
        _ => Err(format!(
            "{name} = {code}: the quantizer rounds elements with HWSIM_ROUND_NEAREST_AWAY (1) or HWSIM_ROUND_NEAREST_EVEN (0) only"
        )),
    }
}
