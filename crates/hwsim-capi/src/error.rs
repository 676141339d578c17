//! The thread-local last error, and the guard every entry point runs its body in: an error or a
//! panic becomes a return value plus a message, never an unwind across the C boundary.

use crate::codes::{HWSIM_ERR_INTERNAL, HWSIM_ERR_INVALID_ARGUMENT, HWSIM_OK};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An error message naming the offending argument (the entry point's name is added by [`guard`]).
pub type Result<T> = std::result::Result<T, String>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The message of the most recent failed call on this thread ("" if none failed yet).
///
/// The pointer stays valid until the next failing call on this thread; copy the text to keep it.
#[no_mangle]
pub extern "C" fn hwsim_last_error() -> *const c_char {
    // The CString's heap buffer outlives the borrow: it is only freed when replaced.
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

fn set_last_error(msg: String) {
    // A C string ends at the first NUL; keep what precedes it.
    let text = match msg.find('\0') {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let c = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Run `body`; on `Err` return `on_error`, on a panic `on_panic`, each with the message recorded
/// as `"{func}: ..."`.
pub fn guard<T>(func: &str, on_error: T, on_panic: T, body: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => {
            set_last_error(format!("{func}: {msg}"));
            on_error
        }
        Err(payload) => {
            set_last_error(format!(
                "{func}: internal error (a panic in libhwsim: {}); please report it",
                panic_text(payload.as_ref())
            ));
            on_panic
        }
    }
}

/// [`guard`] for the entry points that return a status code.
pub fn status(func: &str, body: impl FnOnce() -> Result<()>) -> c_int {
    guard(func, HWSIM_ERR_INVALID_ARGUMENT, HWSIM_ERR_INTERNAL, || {
        body().map(|()| HWSIM_OK)
    })
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
        assert_eq!(status("f", || Ok(())), HWSIM_OK);
        assert_eq!(
            status("f", || Err("x is NULL".into())),
            HWSIM_ERR_INVALID_ARGUMENT
        );
        assert_eq!(last(), "f: x is NULL");
        let code = status("g", || panic!("boom {}", 7));
        assert_eq!(code, HWSIM_ERR_INTERNAL);
        assert!(last().starts_with("g: internal error (a panic in libhwsim: boom 7)"));
        // A success leaves the last failure's message in place.
        assert_eq!(status("h", || Ok(())), HWSIM_OK);
        assert!(last().starts_with("g: "));
    }

    #[test]
    fn messages_are_per_thread_and_cut_at_nul() {
        status("t", || Err("before\0after".into()));
        assert_eq!(last(), "t: before");
        std::thread::spawn(|| assert_eq!(last(), ""))
            .join()
            .unwrap();
    }
}
