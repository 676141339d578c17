"""hwsim: the bit-exact golden model of the softmax_v attention tail, in Python.

The same Rust core as the `sim` CLI (crates/hw-types, crates/hw-units, crates/sim), so every
interface gives the same bits: numpy arrays in and out, the GIL released around the work.

BF16 data is an ml_dtypes.bfloat16 array or uint16 bit patterns; MX data (MXINT8, MXFP8, MXFP6,
MXFP4) is an MxTensor.  Elementwise units: exp_bf16, recip_bf16, mul_bf16.  MX formats:
quantize_mxint8, quantize_mx, dot, gevm, gemm (operands of any formats).
softmax_v cases (dicts keyed by the dataset's file names), with v and exp's quantization in any
pair of MX formats (exp_format, v_format, scale_rule): softmax_v, run_case, load_case,
write_case.  docs/python.md walks through an example; docs/numerics.md defines every result.
"""

from ._native import PROFILES, __version__
from .case import FILES, Case, load_case, run_case, softmax_v, write_case
from .elementwise import exp_bf16, mul_bf16, recip_bf16
from .mx import MX_FORMATS, SCALE_RULES, MxTensor, quantize_mx, quantize_mxint8
from .ops import dot, gemm, gevm
from .profile import hw_config

#: IEEE flag bits of the flags=True arrays (hw_types::Status::bits()).
FLAG_INEXACT = 1
FLAG_UNDERFLOW = 2
FLAG_OVERFLOW = 4
FLAG_DIV_BY_ZERO = 8
FLAG_INVALID = 16

__all__ = [
    "PROFILES", "__version__", "FILES", "Case", "MxTensor", "exp_bf16", "recip_bf16", "mul_bf16",
    "MX_FORMATS", "SCALE_RULES", "quantize_mxint8", "quantize_mx", "dot", "gevm", "gemm",
    "softmax_v", "run_case", "load_case", "write_case", "hw_config", "FLAG_INEXACT",
    "FLAG_UNDERFLOW", "FLAG_OVERFLOW", "FLAG_DIV_BY_ZERO", "FLAG_INVALID",
]
