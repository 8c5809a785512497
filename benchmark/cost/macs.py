"""Counting multiply-accumulates (MACs) with fvcore, plus handles for the ops fvcore skips.

Conventions (one fused multiply-add = 1 MAC, fvcore's "flop"; ``flops = 2 x macs`` elsewhere)
-----------------------------------------------------------------------------------------------
* conv, linear, matmul, einsum, group/layer/instance norm: fvcore's own counts.
* batch_norm at inference: 1 per element (it folds to one ``x * a + b``); in training mode
  fvcore's norm count.
* elementwise arithmetic, comparisons and activations (add, mul, sub, div, relu, sigmoid,
  hardswish, clamp, where, exp, ...): 1 per output element.
* reductions (sum, mean, amax, argmax, allclose, ...): 1 per input element.
* softmax / log_softmax: 3 per element (exponential, accumulation, normalisation).
* max / avg pooling with a kernel: kernel area per output element. Adaptive pooling: the exact
  number of input reads, summed over the (possibly overlapping) bins.
* ``linalg_vecdot``: 1 per element of the (broadcast) product, i.e. of its larger input.
* gather / index / index_select / take: 1 per output element; scatter / scatter_add /
  index_add / index_put: 1 per written (source) element.
* resizing, per output element and channel: nearest 1, bilinear 4, bicubic 16. Antialiased
  resizing (``*_aa``) is separable: a horizontal pass over ``H_in x W_out`` then a vertical pass
  over ``H_out x W_out``, each ``ceil(2 * support)`` taps per output, where the support is 1
  (bilinear) or 2 (bicubic) times ``max(1, in / out)`` along that axis.
* ``grid_sampler`` by mode, per output element and channel: bilinear 4, nearest 1, bicubic 16.
  The per-point coordinate arithmetic (O(h*w), not O(C*h*w)) is not counted.
* modulated deformable convolution (``torchvision::deform_conv2d``, DCNv2): the convolution's
  ``C_in / groups x k_h x k_w`` MACs per output element, plus, per input channel, tap and output
  pixel, 4 for the bilinear sample and 1 for the mask (the offset/mask predictor is an ordinary
  conv, counted as such).
* barycentric unsampling (:class:`benchmark.ops.barycentric.BarycentricUnsample`, one traced op
  whichever implementation runs): per output pixel 4 for its two barycentric coordinates, then
  3 per output element and channel (the three-corner blend).
* :data:`ALLOWLIST`: layout, copy and tensor-construction ops that cost nothing by convention
  (view, reshape, permute, cat, zeros, linspace, dropout at inference, ...).

Every other op the trace meets is *unsupported*: it is reported in ``MacCount.unsupported``
(op name -> number of calls) and costs 0 in the total. fvcore's own list of silently ignored
ops is replaced by :data:`ALLOWLIST` because it hides real work (add, relu, softmax, gather).
The count is made by ``torch.jit.trace``: Python-side work (numpy, loops on ``.item()``) is
invisible to it, so samplers must be written in torch to be costed.
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # fvcore's import touches deprecated torch.jit APIs
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import get_shape, norm_flop_counter

Handle = Callable[[List[Any], List[Any]], Union[int, float]]

# Ops that legitimately cost nothing: layout changes, copies, constructors, shape queries and
# inference-time dropout.
ALLOWLIST = frozenset(
    "aten::" + op
    for op in (
        # layout and views
        "view", "view_as", "reshape", "reshape_as", "_unsafe_view", "permute", "transpose", "t", "flatten",
        "unflatten", "squeeze", "unsqueeze", "unsqueeze_", "expand", "expand_as", "select", "slice", "narrow",
        "split", "split_with_sizes", "chunk", "unbind", "alias",
        # copies (memory traffic, no arithmetic)
        "contiguous", "clone", "copy_", "to", "type_as", "detach", "lift_fresh", "cat", "stack", "meshgrid",
        "repeat", "pad", "constant_pad_nd", "reflection_pad2d", "replication_pad2d",
        # shape queries and scalar conversions
        "size", "numel", "dim", "Int", "Float", "Bool", "ScalarImplicit",
        # constructors
        "zeros", "zeros_like", "ones", "ones_like", "empty", "empty_like", "full", "full_like", "new_zeros",
        "new_ones", "new_empty", "new_full", "arange", "linspace", "scalar_tensor", "tensor",
        # in-place initialisation and strided views (memory, no arithmetic)
        "fill_", "zero_", "as_strided",
        # dropout is the identity at inference
        "dropout", "feature_dropout", "alpha_dropout",
    )
)

ELEMENTWISE_OPS = (
    "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg", "abs", "pow", "sqrt", "rsqrt",
    "exp", "log", "reciprocal", "square", "lerp", "addcmul", "addcdiv", "where", "maximum", "minimum",
    "clamp", "clamp_", "clamp_min", "clamp_min_", "clamp_max", "clamp_max_", "round", "floor", "ceil",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_and_", "logical_or", "logical_or_", "logical_not",
    "logical_xor", "__and__", "__or__", "__xor__", "bitwise_and", "bitwise_or", "bitwise_not", "masked_fill",
    "masked_fill_",
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "hardtanh", "hardtanh_", "elu", "gelu", "silu",
    "silu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_",
    "mish", "softplus", "sin", "cos", "atan2", "sign", "frac", "remainder", "floor_divide", "fmod",
    "__lshift__", "__rshift__", "bitwise_left_shift", "bitwise_right_shift",
)
# linalg_vector_norm (what F.normalize traces to): one multiply-accumulate per element (x * x summed).
REDUCTION_OPS = ("sum", "mean", "amax", "amin", "max", "min", "argmax", "argmin", "norm", "linalg_vector_norm",
                 "allclose", "all", "any", "var", "std", "prod", "cumsum")
RESIZE_MACS = {"nearest": 1, "bilinear": 4, "bicubic": 16}
GRID_SAMPLER_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}  # aten's interpolation_mode codes


@dataclass
class MacCount:
    """``total`` MACs; ``by_op``: MACs per op (fvcore's short names); ``unsupported``: op -> calls."""

    total: int
    by_op: Dict[str, int] = field(default_factory=dict)
    unsupported: Dict[str, int] = field(default_factory=dict)


def _numel(value: Any) -> Optional[int]:
    shape = get_shape(value)
    return None if shape is None else int(math.prod(shape))


def _output_numel(inputs: List[Any], outputs: List[Any]) -> int:
    return _numel(outputs[0]) or 0


def _input_numel(inputs: List[Any], outputs: List[Any]) -> int:
    return _numel(inputs[0]) or 0


def _per_output(macs_per_element: int) -> Handle:
    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        return macs_per_element * _output_numel(inputs, outputs)

    return handle


def _per_input(macs_per_element: int) -> Handle:
    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        return macs_per_element * _input_numel(inputs, outputs)

    return handle


def _written(inputs: List[Any], outputs: List[Any]) -> int:
    """Scatter-like ``op(self, dim, index, src, ...)``: 1 per source element (scalar src: per index)."""
    return _numel(inputs[3]) or _numel(inputs[2]) or _output_numel(inputs, outputs)


def _index_put(inputs: List[Any], outputs: List[Any]) -> int:
    return _numel(inputs[2]) or _output_numel(inputs, outputs)


def _batch_norm(inputs: List[Any], outputs: List[Any]) -> int:
    if inputs[5].toIValue():  # training: normalise with batch statistics
        return int(norm_flop_counter(1)(inputs, outputs))
    return _input_numel(inputs, outputs)


def _int_list(value: Any) -> List[int]:
    """A traced int-list argument (a constant, or a ``prim::ListConstruct`` of constants)."""
    constant = value.toIValue()
    if constant is None and value.node().kind() == "prim::ListConstruct":
        constant = [item.toIValue() for item in value.node().inputs()]
    if isinstance(constant, int):
        return [constant]
    return [int(v) for v in constant]


def _pool_with_kernel(inputs: List[Any], outputs: List[Any]) -> int:
    kernel = _int_list(inputs[1])
    dims = len(get_shape(outputs[0]) or []) - 2
    if len(kernel) == 1 and dims > 1:
        kernel = kernel * dims
    return int(math.prod(kernel)) * _output_numel(inputs, outputs)


def _adaptive_reads(n_in: int, n_out: int) -> int:
    """Input positions read along one axis by adaptive pooling (bins may overlap)."""
    return sum(math.ceil((i + 1) * n_in / n_out) - (i * n_in) // n_out for i in range(n_out))


def _adaptive_pool(inputs: List[Any], outputs: List[Any]) -> int:
    in_shape, out_shape = get_shape(inputs[0]), get_shape(outputs[0])
    dims = len(out_shape) - 2
    reads = math.prod(_adaptive_reads(i, o) for i, o in zip(in_shape[-dims:], out_shape[-dims:]))
    return int(math.prod(out_shape[:-dims]) * reads)


def _antialiased(support: int) -> Handle:
    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        b, c, h_in, w_in = get_shape(inputs[0])
        h_out, w_out = get_shape(outputs[0])[-2:]

        def taps(n_in: int, n_out: int) -> int:
            return math.ceil(2 * support * max(1.0, n_in / n_out))

        return b * c * (h_in * w_out * taps(w_in, w_out) + h_out * w_out * taps(h_in, h_out))

    return handle


def _grid_sampler(inputs: List[Any], outputs: List[Any]) -> int:
    mode = GRID_SAMPLER_MODES.get(inputs[2].toIValue(), "bicubic")
    return RESIZE_MACS[mode] * _output_numel(inputs, outputs)


def _barycentric_unsample(inputs: List[Any], outputs: List[Any]) -> int:
    from benchmark.ops.barycentric import MACS_PER_ELEMENT, MACS_PER_PIXEL

    B, C, H, W = get_shape(outputs[0])
    return B * H * W * (MACS_PER_PIXEL + MACS_PER_ELEMENT * C)


def _vecdot(inputs: List[Any], outputs: List[Any]) -> int:
    # a dot product along one dim: one MAC per product term; the larger input has the broadcast shape
    return max(_numel(inputs[0]) or 0, _numel(inputs[1]) or 0)


def _deform_conv2d(inputs: List[Any], outputs: List[Any]) -> int:
    # torchvision::deform_conv2d(input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w,
    #                            dil_h, dil_w, n_weight_groups, n_offset_groups, use_mask)
    B, C_in, _, _ = get_shape(inputs[0])
    C_out, C_in_per_group, kh, kw = get_shape(inputs[1])
    H_out, W_out = get_shape(outputs[0])[-2:]
    pixels = B * H_out * W_out
    sampling = pixels * C_in * kh * kw * (RESIZE_MACS["bilinear"] + 1)
    return pixels * C_out * C_in_per_group * kh * kw + sampling


def _sort(inputs: List[Any], outputs: List[Any]) -> int:
    # A comparison sort of n elements: n * ceil(log2 n) comparisons, one MAC each by convention.
    n = max(1, math.prod(get_shape(inputs[0]) or [1]))
    return n * max(1, math.ceil(math.log2(n)))


def _handles() -> Dict[str, Handle]:
    handles: Dict[str, Handle] = {}
    handles.update({f"aten::{op}": _per_output(1) for op in ELEMENTWISE_OPS})
    handles.update({f"aten::{op}": _per_input(1) for op in REDUCTION_OPS})
    handles.update({f"aten::{op}": _per_input(3) for op in ("softmax", "log_softmax", "_softmax", "_log_softmax")})
    handles.update({f"aten::{op}": _per_output(1) for op in ("gather", "index", "index_select", "take")})
    handles.update({f"aten::{op}": _written for op in ("scatter", "scatter_", "scatter_add", "scatter_add_",
                                                          "scatter_reduce", "index_add", "index_add_")})
    handles.update({"aten::index_put": _index_put, "aten::index_put_": _index_put})
    # scans: one add or test per element
    handles.update({f"aten::{op}": _per_output(1) for op in ("cumsum", "cumsum_", "repeat_interleave")})
    handles.update({"aten::nonzero": _per_input(1), "aten::sort": _sort, "aten::argsort": _sort})
    handles.update({f"aten::{op}": _pool_with_kernel for op in ("max_pool2d", "max_pool2d_with_indices",
                                                                "avg_pool2d", "max_pool1d", "avg_pool1d")})
    handles.update({f"aten::{op}": _adaptive_pool for op in ("adaptive_avg_pool2d", "adaptive_max_pool2d",
                                                             "adaptive_avg_pool1d", "adaptive_max_pool1d")})
    handles.update({
        "aten::batch_norm": _batch_norm,
        "aten::upsample_nearest2d": _per_output(RESIZE_MACS["nearest"]),
        "aten::upsample_bilinear2d": _per_output(RESIZE_MACS["bilinear"]),
        "aten::upsample_bicubic2d": _per_output(RESIZE_MACS["bicubic"]),
        "aten::_upsample_bilinear2d_aa": _antialiased(1),
        "aten::_upsample_bicubic2d_aa": _antialiased(2),
        "aten::grid_sampler": _grid_sampler,
        "aten::grid_sampler_2d": _grid_sampler,
        "prim::PythonOp.BarycentricUnsample": _barycentric_unsample,
        "torchvision::deform_conv2d": _deform_conv2d,
        "aten::linalg_vecdot": _vecdot,
    })
    return handles


HANDLES: Dict[str, Handle] = _handles()


class _FunctionModule(nn.Module):
    """Lets fvcore trace a plain function (it traces modules only)."""

    def __init__(self, fn: Callable[..., Any]):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.fn(*inputs)


def make_analysis(module: nn.Module, inputs: Tuple[Any, ...]) -> FlopCountAnalysis:
    """An fvcore analysis with the suite's handles and allowlist, its warnings silenced."""
    analysis = FlopCountAnalysis(module, inputs)
    # fvcore's private ignore list hides costly ops: replace it with our explicit allowlist.
    analysis._ignored_ops = set(ALLOWLIST)
    analysis.set_op_handle(**HANDLES)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis


def count_macs(module_or_fn: Union[nn.Module, Callable[..., Any]],
               inputs: Union[torch.Tensor, Sequence[Any]]) -> MacCount:
    """MACs of one call ``module_or_fn(*inputs)``, traced with ``torch.jit.trace``.

    A module is traced in its current mode: call ``.eval()`` first for inference cost (that is
    what :func:`benchmark.cost.pipeline_cost` does). The output must be a tensor or a tuple of
    tensors.
    """
    module = module_or_fn if isinstance(module_or_fn, nn.Module) else _FunctionModule(module_or_fn)
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    analysis = make_analysis(module, inputs)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # jit deprecation and tracer warnings are noise here
        by_op = {op: int(round(v)) for op, v in analysis.by_operator().items()}
        unsupported = dict(Counter(analysis.unsupported_ops()))
    return MacCount(total=sum(by_op.values()), by_op=by_op, unsupported=unsupported)
