//! The `sim` golden model: the softmax_v pipeline, its inputs, dumps and manifests, and the
//! command-line interface. Numerics live in `hw-types` and `hw-units`; this crate arranges them
//! into tensors and files.

pub mod case;
pub mod check;
pub mod cli;
pub mod compare;
pub mod corners;
pub mod cover;
pub mod cycle;
pub mod diff;
pub mod dump;
pub mod format_compare;
pub mod gen;
pub mod gen_cli;
pub mod layout;
pub mod manifest;
pub mod memory;
pub mod merge;
pub mod mx_op;
pub mod ops;
pub mod quantize_op;
pub mod rope;
pub mod shard;
pub mod softmax;
pub mod sweep;
pub mod tensor;
pub mod trace;
