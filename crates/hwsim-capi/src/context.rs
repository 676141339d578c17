//! The context: one hardware description and its units, loaded like `sim run --profile/--config`.

use crate::args;
use crate::error::{guard, Result};
use hw_types::Bf16;
use hw_units::config::HwConfig;
use hw_units::units::Units;
use std::ffi::{c_char, CString};
use std::path::Path;
use std::ptr::null_mut;

/// An opened hardware description (`hwsim_ctx` in C). Immutable once opened, so one context may
/// serve any number of threads at once.
pub struct Context {
    pub(crate) units: Units,
    /// The description's `name`, for `hwsim_config_name`.
    name: CString,
}

// Sharing a context between threads is part of the contract.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Context>()
};

impl Context {
    fn open(arg: &str) -> Result<Context> {
        let config = load(arg)?;
        let units = Units::new(&config);
        // The exact exp unit's ROM is built on first use; build it now, so the first
        // transaction of a testbench does not pay for it.
        let _ = units.exp.eval(Bf16::ZERO);
        let name = CString::new(config.name.replace('\0', "")).unwrap_or_default();
        Ok(Context { units, name })
    }

    /// The description's `name`, for messages.
    pub(crate) fn name(&self) -> std::borrow::Cow<'_, str> {
        self.name.to_string_lossy()
    }
}

/// A profile name, else the path of a JSON hardware description (`sim config show`), read by
/// `HwConfig::from_file` as `sim run --config` reads it: only a regular file of at most 1 MiB,
/// so a device (`/dev/zero`), a FIFO or a directory is refused from its metadata, at once.
fn load(arg: &str) -> Result<HwConfig> {
    if HwConfig::PROFILES.contains(&arg) {
        return HwConfig::profile(arg);
    }
    let path = Path::new(arg);
    // `stat` neither opens nor blocks: a name that is not there is most likely a mistyped profile.
    if let Err(e) = std::fs::metadata(path) {
        return Err(format!(
            "profile_or_config '{arg}' is neither a profile ({}) nor a readable config file: {e}",
            HwConfig::PROFILES.join(", ")
        ));
    }
    HwConfig::from_file(path).map_err(|e| format!("profile_or_config: config file {e}"))
}

/// Open a hardware description: `"reference"`, `"narrow"`, or the path of a JSON config (the
/// format of `sim config show`, read and validated as `sim run --config` does it: only a regular
/// file of at most 1 MiB is read, so a device, a FIFO, a socket or a directory is refused from
/// its metadata without being read). Returns NULL on error, with the reason in
/// `hwsim_last_error()`. Close with `hwsim_close`.
///
/// # Safety
/// `profile_or_config` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hwsim_open(profile_or_config: *const c_char) -> *mut Context {
    guard("hwsim_open", || {
        // SAFETY: the caller's contract on profile_or_config.
        let arg = unsafe { args::text(profile_or_config, "profile_or_config") }?;
        Ok(Box::into_raw(Box::new(Context::open(arg)?)))
    })
    .unwrap_or(null_mut())
}

/// Free a context. NULL is ignored. No call may use the context afterwards, nor run on it
/// concurrently with this one.
///
/// # Safety
/// `ctx` is NULL or a pointer returned by `hwsim_open` that was not closed yet.
#[no_mangle]
pub unsafe extern "C" fn hwsim_close(ctx: *mut Context) {
    if !ctx.is_null() {
        // SAFETY: ctx came from Box::into_raw in hwsim_open and is closed once (caller's
        // contract). Dropping the units cannot panic (plain vectors).
        drop(unsafe { Box::from_raw(ctx) });
    }
}

/// The `name` of the context's hardware description (`"reference"`, `"narrow"`, or the config
/// file's `name`); "" if `ctx` is NULL. Valid until the context is closed.
///
/// # Safety
/// `ctx` is NULL or an open context.
#[no_mangle]
pub unsafe extern "C" fn hwsim_config_name(ctx: *const Context) -> *const c_char {
    // SAFETY: the caller's contract on ctx.
    match unsafe { ctx.as_ref() } {
        Some(c) => c.name.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// The library version (the workspace version, as `sim --version` prints it), static.
#[no_mangle]
pub extern "C" fn hwsim_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
