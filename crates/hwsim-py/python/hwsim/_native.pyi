# Type stubs of the extension module (crates/hwsim-py/src). The public API is the Python package;
# these functions take flat C-contiguous arrays plus shapes. (`_force_panic(message, in_worker)`
# is a test-only hook, tests/test_hostile.py, and not declared here.)
from os import PathLike
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
PROFILES: List[str]

U16 = npt.NDArray[np.uint16]
U8 = npt.NDArray[np.uint8]
I8 = npt.NDArray[np.int8]
# (file name, dtype "bf16" or an MX format name, shape, block axis, bits or (scales, elements):
# int8 elements for mxint8, uint8 codes for the other formats)
Entry = Tuple[str, str, List[int], Optional[int], Union[U16, Tuple[U8, Union[I8, U8]]]]
CaseOut = Tuple[str, List[Entry], Dict[str, U8], str]
Operand = Tuple[U8, I8, List[int], int]
MxOperand = Tuple[U8, U8, List[int], int, str]

def exp_bf16(x: U16, profile: str, flags: bool) -> Tuple[U16, Optional[U8]]: ...
def recip_bf16(x: U16, profile: str, flags: bool) -> Tuple[U16, Optional[U8]]: ...
def mul_bf16(a: U16, b: U16, profile: str, flags: bool) -> Tuple[U16, Optional[U8]]: ...
def quantize(
    x: npt.NDArray[np.uint32], shape: List[int], axis: int, rounding: str
) -> Tuple[U8, I8, U8]: ...
def quantize_mx(
    x: npt.NDArray[np.uint32],
    shape: List[int],
    axis: int,
    format: str,
    rule: str,
    rounding: Optional[str] = None,
) -> Tuple[U8, U8, U8]: ...
def mx_formats() -> List[Tuple[str, int, str, npt.NDArray[np.float64]]]: ...
def block_matmul(
    op: str,
    dims: Tuple[int, int, int],
    a: Operand,
    b: Operand,
    out_dtype: str,
    rounding_mode: str,
) -> Tuple[npt.NDArray[Any], U8]: ...
def mx_block_matmul(
    op: str,
    dims: Tuple[int, int, int],
    a: MxOperand,
    b: MxOperand,
    out_dtype: str,
    rounding_mode: str,
) -> Tuple[npt.NDArray[Any], U8]: ...
def softmax_v(
    qk: U16,
    v_scales: U8,
    v_elems: Union[I8, U8],
    heads: int,
    kv: int,
    head_dim: int,
    profile: str,
    element_rounding: Optional[str],
    name: str,
    exp_format: str = "mxint8",
    v_format: str = "mxint8",
    scale_rule: str = "floor",
) -> CaseOut: ...
def run_case(
    kv: int,
    seed: int,
    heads: int,
    head_dim: int,
    profile: str,
    element_rounding: Optional[str],
    exp_format: str = "mxint8",
    v_format: str = "mxint8",
    scale_rule: str = "floor",
) -> CaseOut: ...
def load_case(
    folder: Union[str, PathLike[str]], heads: int, head_dim: int
) -> Tuple[str, List[Entry]]: ...
def write_case(
    out: Union[str, PathLike[str]],
    manifest_json: str,
    flag_counts_json: str,
    entries: List[Entry],
    replace: bool,
) -> Tuple[Path, List[str]]: ...
def softmax_manifest(
    name: str,
    kv: int,
    seed: Optional[int],
    heads: int,
    head_dim: int,
    element_rounding: Optional[str],
    profile: str,
    exp_format: str = "mxint8",
    v_format: str = "mxint8",
    scale_rule: str = "floor",
) -> str: ...
def config_json(profile: str) -> str: ...
