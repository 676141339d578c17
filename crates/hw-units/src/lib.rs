//! Hardware units of the softmax_v datapath. Each unit's *function* lives here once; the functional
//! pipeline calls it directly. The reference profile's units are exact: every result is the
//! correctly rounded value of docs/numerics.md.

pub mod exp;
pub mod mac;
pub mod recip;
pub mod reduce;
