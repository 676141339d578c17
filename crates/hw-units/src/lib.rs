//! Hardware units of the softmax_v datapath. Each unit's *function* lives here once, configured
//! by a [`config::HwConfig`]; the functional pipeline calls it directly and the cycle model calls
//! the same functions from its clocked stages. The `reference` profile's units are exact: every
//! result is the correctly rounded value of docs/numerics.md.

pub mod acc;
pub mod config;
pub mod exp;
pub mod files;
pub mod kernels;
pub mod mac;
pub mod quantize;
pub mod recip;
pub mod rom;
pub mod units;
