//! The elementwise units over arrays of BF16 bit patterns: exp (softmax_v stage 1), reciprocal
//! (stage 5) and the output multiplier (stage 6), each as the configured unit evaluates it, with
//! the IEEE flags of every result (`hw_types::Status::bits()`).

use crate::arrays::{slice, to_numpy, value_error};
use crate::{check_memory, guarded, profile};
use hw_types::{Bf16, StatusAnd};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use rayon::prelude::*;
use sim::memory::Need;
use std::path::PathBuf;

/// Elements per parallel task: small calls (a testbench's one transaction) stay on the caller's
/// thread, large arrays split over the cores.
const CHUNK: usize = 1 << 15;

type BitsAndFlags<'py> = (Bound<'py, PyArray1<u16>>, Option<Bound<'py, PyArray1<u8>>>);

/// `f(i)` for every index, values and (when asked) flags.
fn map(
    n: usize,
    want_flags: bool,
    f: impl Fn(usize) -> StatusAnd<Bf16> + Sync,
) -> (Vec<u16>, Option<Vec<u8>>) {
    let mut vals = vec![0u16; n];
    let mut flags = vec![0u8; if want_flags { n } else { 0 }];
    let fill = |start: usize, vals: &mut [u16], flags: &mut [u8]| {
        for (k, v) in vals.iter_mut().enumerate() {
            let r = f(start + k);
            *v = r.value.0;
            if let Some(fl) = flags.get_mut(k) {
                *fl = r.status.bits();
            }
        }
    };
    if n <= CHUNK {
        fill(0, &mut vals, &mut flags);
    } else if want_flags {
        vals.par_chunks_mut(CHUNK)
            .zip(flags.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (v, fl))| fill(c * CHUNK, v, fl));
    } else {
        vals.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, v)| fill(c * CHUNK, v, &mut []));
    }
    (vals, want_flags.then_some(flags))
}

/// The outputs of an elementwise call on `n` elements (values, and flags when asked) must fit.
fn check_outputs(what: &str, n: usize, want_flags: bool) -> PyResult<()> {
    let need = Need::new().add(&[n], 2).add(&[n], usize::from(want_flags));
    check_memory(need, &format!("the {n} results of {what}"))
}

fn finish<'py>(py: Python<'py>, (vals, flags): (Vec<u16>, Option<Vec<u8>>)) -> BitsAndFlags<'py> {
    (to_numpy(py, vals), flags.map(|f| to_numpy(py, f)))
}

/// `e^x` per element through the profile's exp unit (`RNE_bf16(e^x)` in the reference).
#[pyfunction]
#[pyo3(signature = (x, profile, flags))]
pub fn exp_bf16<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, u16>,
    profile: PathBuf,
    flags: bool,
) -> PyResult<BitsAndFlags<'py>> {
    guarded(|| {
        let u = profile::units(&profile)?;
        let x = slice(&x, "x")?;
        check_outputs("exp_bf16", x.len(), flags)?;
        let out = py.detach(|| map(x.len(), flags, |i| u.exp.eval(Bf16(x[i]))));
        Ok(finish(py, out))
    })
}

/// `1/x` per element through the profile's reciprocal unit.
#[pyfunction]
#[pyo3(signature = (x, profile, flags))]
pub fn recip_bf16<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, u16>,
    profile: PathBuf,
    flags: bool,
) -> PyResult<BitsAndFlags<'py>> {
    guarded(|| {
        let u = profile::units(&profile)?;
        let x = slice(&x, "x")?;
        check_outputs("recip_bf16", x.len(), flags)?;
        let out = py.detach(|| map(x.len(), flags, |i| u.recip.eval(Bf16(x[i]))));
        Ok(finish(py, out))
    })
}

/// `a * b` per element through the profile's output multiplier (the exact product rounded in
/// `mul.rounding`). `a` and `b` have the same length (the Python layer broadcasts).
#[pyfunction]
#[pyo3(signature = (a, b, profile, flags))]
pub fn mul_bf16<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, u16>,
    b: PyReadonlyArray1<'py, u16>,
    profile: PathBuf,
    flags: bool,
) -> PyResult<BitsAndFlags<'py>> {
    guarded(|| {
        let u = profile::units(&profile)?;
        let (a, b) = (slice(&a, "a")?, slice(&b, "b")?);
        if a.len() != b.len() {
            return Err(value_error(format!(
                "a and b: {} and {} elements (broadcast them to one shape)",
                a.len(),
                b.len()
            )));
        }
        check_outputs("mul_bf16", a.len(), flags)?;
        let out = py.detach(|| map(a.len(), flags, |i| u.mul(Bf16(a[i]), Bf16(b[i]))));
        Ok(finish(py, out))
    })
}
