//! The thread-local last error, and the guard every entry point runs its body in: an error or a
//! panic becomes a return value plus a message, never an unwind across the C boundary.

use crate::codes::{HWSIM_ERR_INTERNAL, HWSIM_ERR_INVALID_ARGUMENT, HWSIM_ERR_NO_MEMORY};
use sim::memory::OutOfMemory;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An error message naming the offending argument (the entry point's name is added by [`guard`]).
pub type Result<T> = std::result::Result<T, String>;

/// Why a call failed: a bad argument (the message names it) or memory that could not be had.
#[derive(Debug)]
pub enum Failure {
    Invalid(String),
    NoMemory(OutOfMemory),
}

impl From<String> for Failure {
    fn from(msg: String) -> Failure {
        Failure::Invalid(msg)
    }
}

impl From<OutOfMemory> for Failure {
    fn from(e: OutOfMemory) -> Failure {
        Failure::NoMemory(e)
    }
}

/// What an entry point's body returns.
pub type Outcome<T> = std::result::Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static ERROR_COUNT: Cell<u64> = const { Cell::new(0) };
}

/// The message of the most recent failed call on this thread ("" if none failed yet).
///
/// The pointer stays valid until the next failing call on this thread; copy the text to keep it.
#[no_mangle]
pub extern "C" fn hwsim_last_error() -> *const c_char {
    // The CString's heap buffer outlives the borrow: it is only freed when replaced.
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The number of calls on this thread that have failed so far (0 at the start; each failing call
/// adds one and sets `hwsim_last_error()`). A layer above libhwsim (the SystemVerilog wrappers of
/// sv/hwsim_dpi.c) compares it with the count at its own last failure to tell whose error is the
/// latest; a caller may also compare it before and after a call.
#[no_mangle]
pub extern "C" fn hwsim_error_count() -> u64 {
    ERROR_COUNT.with(Cell::get)
}

fn set_last_error(msg: String) {
    // A C string ends at the first NUL; keep what precedes it.
    let text = match msg.find('\0') {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let c = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
    ERROR_COUNT.with(|n| n.set(n.get().wrapping_add(1)));
}

/// Run `body`; on a failure or a panic record the message as `"{func}: ..."` and return the
/// error code (`HWSIM_ERR_*`) the caller turns into its error value.
pub fn guard<T>(func: &str, body: impl FnOnce() -> Outcome<T>) -> std::result::Result<T, c_int> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Failure::Invalid(msg))) => {
            set_last_error(format!("{func}: {msg}"));
            Err(HWSIM_ERR_INVALID_ARGUMENT)
        }
        Ok(Err(Failure::NoMemory(e))) => {
            set_last_error(format!("{func}: {e}"));
            Err(HWSIM_ERR_NO_MEMORY)
        }
        Err(payload) => {
            set_last_error(format!(
                "{func}: internal error (a panic in libhwsim: {}); please report it",
                panic_text(payload.as_ref())
            ));
            Err(HWSIM_ERR_INTERNAL)
        }
    }
}

/// [`guard`] for the entry points that return a status code.
pub fn status(func: &str, body: impl FnOnce() -> Outcome<()>) -> c_int {
    match guard(func, body) {
        Ok(()) => crate::codes::HWSIM_OK,
        Err(code) => code,
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::HWSIM_OK;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: hwsim_last_error returns a NUL-terminated string that lives until the next
        // failing call on this thread; it is copied at once.
        unsafe { CStr::from_ptr(hwsim_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn errors_and_panics_become_codes_and_messages() {
        let n = hwsim_error_count();
        assert_eq!(status("f", || Ok(())), HWSIM_OK);
        assert_eq!(hwsim_error_count(), n, "a success is no failure");
        assert_eq!(
            status("f", || Err(String::from("x is NULL").into())),
            HWSIM_ERR_INVALID_ARGUMENT
        );
        assert_eq!(last(), "f: x is NULL");
        assert_eq!(hwsim_error_count(), n + 1);
        let code = status("g", || panic!("boom {}", 7));
        assert_eq!(code, HWSIM_ERR_INTERNAL);
        assert!(last().starts_with("g: internal error (a panic in libhwsim: boom 7)"));
        assert_eq!(hwsim_error_count(), n + 2);
        // A success leaves the last failure's message in place.
        assert_eq!(status("h", || Ok(())), HWSIM_OK);
        assert!(last().starts_with("g: "));
        let oom = OutOfMemory {
            bytes: 1 << 40,
            what: "a test".into(),
        };
        assert_eq!(status("m", || Err(oom.into())), HWSIM_ERR_NO_MEMORY);
        assert!(
            last().starts_with("m: cannot allocate 1099511627776 bytes")
                && last().ends_with(" for a test"),
            "{}",
            last()
        );
        assert_eq!(hwsim_error_count(), n + 3);
    }

    #[test]
    fn messages_are_per_thread_and_cut_at_nul() {
        status("t", || Err(String::from("before\0after").into()));
        assert_eq!(last(), "t: before");
        std::thread::spawn(|| {
            assert_eq!(last(), "");
            assert_eq!(hwsim_error_count(), 0);
        })
        .join()
        .unwrap();
    }
}
