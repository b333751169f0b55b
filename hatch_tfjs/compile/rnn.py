"""SimpleRNN, LSTM, GRU (both ``reset_after`` modes), RNN over their cells, Bidirectional and ConvLSTM2D: unrolled
over a fixed sequence length of at most :data:`~hatch_tfjs.keras_names.MAX_UNROLLED_STEPS` steps, or a
``StatelessWhile`` loop over a longer one or one known only at run time (so the graph's size does not grow with the
length; ConvLSTM2D has no loop form here yet, and longer ones are left to the TensorFlow route).

Unrolled, the input projection ``x @ kernel + bias`` of every step is one fused MatMul over ``[batch * steps,
features]`` (one convolution over every frame for ConvLSTM2D), unstacked into steps; each step then adds the
recurrent term and applies Keras's cell equations (keras/src/layers/rnn/*.py). Starting from zero states, the first
step's recurrent terms are left out rather than multiplied by zeros. In a loop, the body function projects step
``t`` and applies the same equations to the carried states (zeros or ``initial_state`` at first), appending the
output to the carried sequence (TF.js runs such a graph with ``executeAsync``). A mask keeps the previous state at
masked steps. Stateful layers are not translated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hatch_tfjs.compile.activations import apply_activation
from hatch_tfjs.compile.builder import (
    GraphBuilder,
    NotCoveredError,
    Shape,
    Tensor,
    attr_bool,
    attr_int,
    attr_str,
    attr_type,
    known,
)
from hatch_tfjs.compile.conv import Window, conv2d_op, pair
from hatch_tfjs.compile.registry import LayerCall, layer
from hatch_tfjs.keras_names import MAX_UNROLLED_STEPS

State = list[Tensor]  # [h] or [h, c]; empty before the first step


@dataclass
class Recurrence:
    """One RNN layer's settings and weights, ready to emit."""

    b: GraphBuilder
    scope: str
    kind: str  # "SimpleRNN" | "LSTM" | "GRU"
    config: dict[str, Any]
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray | None

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    def act(self, x: Tensor, key: str = "activation") -> Tensor:
        return apply_activation(
            self.b, self.scope, x, self.config.get(key, "sigmoid" if key != "activation" else "tanh")
        )

    def matmul(self, x: Tensor, weight: np.ndarray, name: str) -> Tensor:
        w = self.b.const(f"{self.scope}/{name}", weight)
        return self.b.op(
            f"{self.scope}/MatMul",
            "MatMul",
            [x, w],
            (x.shape[0], weight.shape[1]),
            attr={"transpose_a": attr_bool(False), "transpose_b": attr_bool(False)},
        )

    def recurrent(self, h: Tensor) -> Tensor:
        """The recurrent term ``h @ recurrent_kernel``."""
        return self.matmul(h, self.recurrent_kernel, "recurrent_kernel")

    def split(self, x: Tensor, parts: int) -> list[Tensor]:
        """The gates: ``x`` split in ``parts`` along its last axis."""
        axis = self.b.const(f"{self.scope}/split_axis", x.rank - 1, "DT_INT32")
        name = self.b.node(
            f"{self.scope}/split", "Split", [axis, x], {"T": attr_type("DT_FLOAT"), "num_split": attr_int(parts)}
        )
        width = None if x.shape[-1] is None else x.shape[-1] // parts
        return [Tensor(f"{name}:{i}" if i else name, (*x.shape[:-1], width)) for i in range(parts)]

    def add(self, a: Tensor, c: Tensor) -> Tensor:
        return self.b.binary(self.scope, "AddV2", a, c)

    def mul(self, a: Tensor, c: Tensor) -> Tensor:
        return self.b.binary(self.scope, "Mul", a, c)

    def input_bias(self) -> np.ndarray | None:
        if self.bias is None:
            return None
        return self.bias[0] if self.bias.ndim == 2 else self.bias

    def with_input_bias(self, y: Tensor) -> Tensor:
        bias = self.input_bias()
        if bias is None:
            return y
        return self.b.op(
            f"{self.scope}/BiasAdd",
            "BiasAdd",
            [y, self.b.const(f"{self.scope}/bias", bias)],
            y.shape,
            attr={"data_format": attr_str("NHWC")},
        )

    def project_rows(self, rows: Tensor) -> Tensor:
        """``rows @ kernel + bias`` for ``[rows, features]`` inputs."""
        return self.with_input_bias(self.matmul(rows, self.kernel, "kernel"))

    def project(self, x: Tensor) -> list[Tensor]:
        """``x @ kernel + bias`` for every step at once, as one list of ``[batch, gates]`` tensors."""
        steps = known(x.shape[1], "the sequence length")
        y = self.project_rows(self.b.reshape(f"{self.scope}/steps", x, (None, *x.shape[2:])))
        return self.unstack_steps(self.b.reshape(f"{self.scope}/per_step", y, (None, steps, *y.shape[1:])))

    def unstack_steps(self, y: Tensor) -> list[Tensor]:
        """``[batch, steps, ...]`` as one tensor per step."""
        steps = known(y.shape[1], "the sequence length")
        name = self.b.node(
            f"{self.scope}/unstack",
            "Unpack",
            [y],
            {"T": attr_type("DT_FLOAT"), "axis": attr_int(1), "num": attr_int(steps)},
        )
        return [Tensor(f"{name}:{t}" if t else name, (y.shape[0], *y.shape[2:])) for t in range(steps)]

    def step(self, xp: Tensor, state: State) -> State:
        return STEPS[self.kind](self, xp, state)


@dataclass
class ConvRecurrence(Recurrence):
    """ConvLSTM2D's cell: the input and recurrent kernels are NHWC convolutions (the recurrent one with same padding
    and unit strides) instead of matrix products; the LSTM gate equations are the same."""

    window: Window  # the input convolution's

    def project_rows(self, rows: Tensor) -> Tensor:
        """The input convolution (+ bias) of ``[frames, h, w, c]`` inputs (every step's frame at once)."""
        return self.with_input_bias(conv2d_op(self.b, self.scope, "Conv2D", rows, self.kernel, self.window))

    def recurrent(self, h: Tensor) -> Tensor:
        same = Window(self.window.kernel, (1, 1), (1, 1), "SAME")
        return conv2d_op(self.b, f"{self.scope}/recurrent", "Conv2D", h, self.recurrent_kernel, same)


def _simple_rnn_step(r: Recurrence, xp: Tensor, state: State) -> State:
    """``h = act(x W + b + h U)``."""
    total = r.add(xp, r.recurrent(state[0])) if state else xp
    return [r.act(total)]


def _lstm_step(r: Recurrence, xp: Tensor, state: State) -> State:
    """Gates ``i, f, c, o`` of ``x W + h U + b``; ``c = f c + i act(c~)``, ``h = o act(c)``."""
    z = r.add(xp, r.recurrent(state[0])) if state else xp
    i, f, g, o = r.split(z, 4)
    i, f, o = r.act(i, "recurrent_activation"), r.act(f, "recurrent_activation"), r.act(o, "recurrent_activation")
    candidate = r.mul(i, r.act(g))
    c = r.add(r.mul(f, state[1]), candidate) if state else candidate
    return [r.mul(o, r.act(c)), c]


def _gru_step(r: Recurrence, xp: Tensor, state: State) -> State:
    """Gates ``z, r, h~``; ``reset_after``: ``h~ = act(x_h + r (h U_h + b_h))``, else ``act(x_h + (r h) U_h)``;
    ``h = z h + (1 - z) h~``."""
    units = r.units
    x_z, x_r, x_h = r.split(xp, 3)
    recurrent_bias = r.bias[1] if r.bias is not None and r.bias.ndim == 2 else None
    if r.config.get("reset_after", True):
        if state:
            inner = r.recurrent(state[0])
            if recurrent_bias is not None:
                inner = r.add(inner, r.b.const(f"{r.scope}/recurrent_bias", recurrent_bias))
            i_z, i_r, i_h = r.split(inner, 3)
        else:  # h = 0: the recurrent terms are the recurrent bias alone
            parts = np.split(recurrent_bias if recurrent_bias is not None else np.zeros(3 * units, np.float32), 3)
            i_z, i_r, i_h = (r.b.const(f"{r.scope}/recurrent_bias_{g}", p) for g, p in zip("zrh", parts, strict=True))
        z = r.act(r.add(x_z, i_z), "recurrent_activation")
        reset = r.act(r.add(x_r, i_r), "recurrent_activation")
        candidate = r.act(r.add(x_h, r.mul(reset, i_h)))
    else:
        u_z, u_r, u_h = np.split(r.recurrent_kernel, 3, axis=1)
        if state:
            z = r.act(r.add(x_z, r.matmul(state[0], u_z, "recurrent_kernel_z")), "recurrent_activation")
            reset = r.act(r.add(x_r, r.matmul(state[0], u_r, "recurrent_kernel_r")), "recurrent_activation")
            candidate = r.act(r.add(x_h, r.matmul(r.mul(reset, state[0]), u_h, "recurrent_kernel_h")))
        else:
            z = r.act(x_z, "recurrent_activation")
            candidate = r.act(x_h)
    one_minus_z = r.b.binary(r.scope, "Sub", r.b.scalar(r.scope, 1.0), z)
    new = r.mul(one_minus_z, candidate)
    return [r.add(r.mul(z, state[0]), new) if state else new]


STEPS: dict[str, Callable[[Recurrence, Tensor, State], State]] = {
    "SimpleRNN": _simple_rnn_step,
    "LSTM": _lstm_step,
    "GRU": _gru_step,
}


def _cell_weights(call: LayerCall, prefixes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``kernel, recurrent_kernel, bias`` stored as ``<prefix>/<cell>/<weight>`` (or without the cell level), under
    the first of ``prefixes`` that has them."""
    for prefix in prefixes:
        found: dict[str, np.ndarray] = {}
        for name, value in call.weights.items():
            if name.startswith(prefix + "/"):
                found.setdefault(name.rsplit("/", 1)[-1], np.asarray(value))
        if "kernel" in found and "recurrent_kernel" in found:
            return found["kernel"], found["recurrent_kernel"], found.get("bias")
    raise NotCoveredError(f"its weights {prefixes[0]}/.../kernel and recurrent_kernel are not in the file")


@dataclass
class RunResult:
    """What one RNN direction computed."""

    last: Tensor  # the output of the last processed step
    state: State  # the final states
    sequence: Tensor | None  # every step's output, in processing order (when asked for)


def _run(
    call: LayerCall,
    x: Tensor,
    kind: str,
    cfg: dict[str, Any],
    prefixes: list[str],
    scope: str,
    *,
    sequence: bool,
) -> RunResult:
    """Run one RNN over ``x``; the call's ``mask`` ``[batch, steps]`` (bool) skips steps as Keras's ``rnn`` does."""
    mask = call.kwargs.get("mask")
    if cfg.get("stateful") or cfg.get("time_major"):
        raise NotCoveredError("stateful and time-major RNNs are not translated yet")
    if x.rank != 3 or x.shape[2] is None:
        raise NotCoveredError("its input is not a [batch, steps, features] sequence with known features")
    kernel, recurrent_kernel, bias = _cell_weights(call, prefixes)
    recurrence = Recurrence(
        call.builder, scope, kind, cfg, kernel, recurrent_kernel, bias if cfg.get("use_bias", True) else None
    )
    initial = _initial_state(call, kind)
    steps = x.shape[1]
    if steps is None or steps > MAX_UNROLLED_STEPS:
        if steps is not None:
            call.builder.looped[call.name] = steps
        return _run_loop(recurrence, x, mask, initial, sequence=sequence)
    call.builder.unrolled[call.name] = steps
    return _run_unrolled(recurrence, x, mask, initial, sequence=sequence)


def _initial_state(call: LayerCall, kind: str) -> State:
    """The states passed as ``initial_state`` (zeros when none are: then the list is empty)."""
    value = call.kwargs.get("initial_state")
    states = [] if value is None else [value] if isinstance(value, Tensor) else list(value)
    if states and (len(states) != len(_state_names(kind)) or not all(isinstance(t, Tensor) for t in states)):
        raise NotCoveredError(f"its initial_state is not {len(_state_names(kind))} tensor(s)")
    return states


def _run_unrolled(r: Recurrence, x: Tensor, mask: Tensor | None, initial: State, *, sequence: bool) -> RunResult:
    b, scope, cfg = r.b, r.scope, r.config
    steps = r.project(x)
    masks = _step_masks(b, scope, mask, len(steps)) if mask is not None else []
    if cfg.get("go_backwards"):
        steps, masks = steps[::-1], masks[::-1]
    keeps: list[Tensor | None] = [*masks] if masks else [None] * len(steps)
    state: State = list(initial)
    outputs: list[Tensor] = []
    for xp, keep in zip(steps, keeps, strict=True):
        new = r.step(xp, state)
        if keep is None:
            state = new
            outputs.append(state[0])
            continue
        # A masked step keeps the previous states (zeros before the first step, unless given); its output is the
        # previous output (zeros before the first step), or zeros with zero_output_for_mask.
        previous = state or [_zeros(b, scope, t) for t in new]
        state = [_select(b, scope, keep, n, p) for n, p in zip(new, previous, strict=True)]
        if cfg.get("zero_output_for_mask"):
            outputs.append(new[0])  # zeroed below at the masked steps, all steps at once
        elif initial:  # the previous output is not the previous state
            outputs.append(_select(b, scope, keep, new[0], outputs[-1] if outputs else _zeros(b, scope, new[0])))
        else:  # the previous output is the previous state
            outputs.append(state[0])
    if not masks or not cfg.get("zero_output_for_mask"):
        return RunResult(outputs[-1], state, _sequence(b, scope, outputs) if sequence else None)
    # zero_output_for_mask: one Select over the whole sequence (or the last step) rather than one per step; each
    # costs TF.js a Tile and two copies besides the Select.
    last = _select(b, scope, masks[-1], outputs[-1], _zeros(b, scope, outputs[-1]))
    if not sequence:
        return RunResult(last, state, None)
    stacked = _sequence(b, scope, outputs)
    kept = b.op(
        f"{scope}/mask_sequence",
        "Pack",
        masks,
        (stacked.shape[0], len(masks), 1),
        dtype="DT_BOOL",
        attr={"N": attr_int(len(masks)), "axis": attr_int(1)},
    )
    return RunResult(last, state, _select(b, scope, kept, stacked, _zeros(b, scope, stacked)))


def _run_loop(r: Recurrence, x: Tensor, mask: Tensor | None, initial: State, *, sequence: bool) -> RunResult:
    """A ``StatelessWhile`` over the steps ``t < steps`` (read from the input's shape at run time), carrying
    ``t``, the inputs (and mask), the last output, the states and, for sequences, the outputs so far."""
    b, scope, units = r.b, r.scope, r.units
    if mask is not None and (mask.rank != 2 or mask.dtype != "DT_BOOL"):
        raise NotCoveredError("its mask is not a [batch, steps] bool tensor")
    if r.config.get("go_backwards"):
        x = _reverse_time(b, scope, x)
        mask = _reverse_time(b, scope, mask) if mask is not None else None
    shape = b.shape_of(scope, x)
    batch, steps = (b.gather(f"{scope}/dim{i}", shape, b.const(f"{scope}/dim{i}", i, "DT_INT32"), 0) for i in (0, 1))
    zeros = _fill(b, scope, [batch, units])
    carried = [("t", b.const(f"{scope}/t0", 0, "DT_INT32")), ("steps", steps), ("x", x)]
    carried += [("mask", mask)] if mask is not None else []
    names = _state_names(r.kind)
    carried += [("output", zeros), *zip(names, initial or [zeros] * len(names), strict=True)]
    carried += [("outputs", _fill(b, scope, [batch, 0, units]))] if sequence else []
    # The outputs so far grow by a step each iteration: their length is unknown inside and after the loop.
    shapes = {name: (None, None, units) if name == "outputs" else t.shape for name, t in carried}
    body = _loop_body(r, {name: Tensor(name, shapes[name], t.dtype) for name, t in carried})
    out = _while(b, scope, carried, shapes, body)
    outputs = out.get("outputs")
    if outputs is not None and x.shape[1] is not None:  # a fixed length: the layers after it may need it
        outputs = b.reshape(f"{scope}/outputs", outputs, (None, x.shape[1], units))
    return RunResult(out["output"], [out[n] for n in _state_names(r.kind)], outputs)


def _while(
    b: GraphBuilder,
    scope: str,
    carried: list[tuple[str, Tensor]],
    shapes: dict[str, Shape],
    body: _LoopBody,
) -> dict[str, Tensor]:
    """The ``StatelessWhile`` node running ``body`` while ``t < steps``, and its results by carried name."""
    signature = [(name, t.dtype) for name, t in carried]
    body_name = b.add_function(
        f"{scope}/while_body", body.b, signature, [(f"{name}_next", body.nexts[name]) for name, _ in carried]
    )
    cond = b.function_builder()
    less = cond.op(
        f"{scope}/while_cond/Less",
        "Less",
        [Tensor("t", (), "DT_INT32"), Tensor("steps", (), "DT_INT32")],
        (),
        dtype="DT_BOOL",
        typed=False,
        attr={"T": attr_type("DT_INT32")},
    )
    cond_name = b.add_function(f"{scope}/while_cond", cond, signature, [("less", less)])
    attr = {
        "T": {"list": {"type": [dtype for _, dtype in signature]}},
        "body": {"func": {"name": body_name}},
        "cond": {"func": {"name": cond_name}},
        "parallel_iterations": attr_int(10),
    }
    node = b.node(f"{scope}/while", "StatelessWhile", [t for _, t in carried], attr)
    return {name: Tensor(f"{node}:{i}" if i else node, shapes[name], t.dtype) for i, (name, t) in enumerate(carried)}


@dataclass
class _LoopBody:
    b: GraphBuilder
    nexts: dict[str, Tensor]  # each carried value after one step


def _loop_body(r: Recurrence, args: dict[str, Tensor]) -> _LoopBody:
    """One step as a function of the carried values: step ``t`` of the inputs projected, the cell equations on the
    carried states, masked steps keeping the previous ones."""
    fb = r.b.function_builder()
    scope = f"{r.scope}/while"
    step = replace(r, b=fb, scope=scope)
    names = _state_names(r.kind)
    new = step.step(step.project_rows(fb.gather(f"{scope}/x_t", args["x"], args["t"], 1)), [args[n] for n in names])
    output = new[0]
    if "mask" in args:
        keep = fb.expand_dims(scope, fb.gather(f"{scope}/mask_t", args["mask"], args["t"], 1), 1)
        new = [_select(fb, scope, keep, n, args[name]) for n, name in zip(new, names, strict=True)]
        masked_output = _zeros(fb, scope, output) if r.config.get("zero_output_for_mask") else args["output"]
        output = _select(fb, scope, keep, output, masked_output)
    one = fb.const(f"{scope}/one", 1, "DT_INT32")
    nexts = {**args, "t": fb.binary(scope, "AddV2", args["t"], one), "output": output}
    nexts.update(zip(names, new, strict=True))
    if "outputs" in args:
        nexts["outputs"] = fb.concat(scope, [args["outputs"], fb.expand_dims(scope, output, 1)], 1)
    # Every result through its own Identity: TF.js reads a function's results by node, one output each.
    identities = {
        name: fb.op(f"{scope}/{name}_next", "Identity", [t], t.shape, dtype=t.dtype) for name, t in nexts.items()
    }
    return _LoopBody(fb, identities)


def _state_names(kind: str) -> list[str]:
    return ["h", "c"] if kind == "LSTM" else ["h"]


def _fill(b: GraphBuilder, scope: str, dims: list[Tensor | int]) -> Tensor:
    """Zeros of a shape whose dimensions are scalar int32 tensors or ints."""
    parts = [d if isinstance(d, Tensor) else b.const(f"{scope}/dim", d, "DT_INT32") for d in dims]
    shape = b.op(
        f"{scope}/zeros_shape",
        "Pack",
        parts,
        (len(parts),),
        dtype="DT_INT32",
        attr={"N": attr_int(len(parts)), "axis": attr_int(0)},
    )
    static = tuple(d if isinstance(d, int) else None for d in dims)
    return b.op(
        f"{scope}/zeros", "Fill", [shape, b.scalar(scope, 0.0)], static, attr={"index_type": attr_type("DT_INT32")}
    )


def _reverse_time(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    """``x`` reversed along time. A bool mask is reversed as int32: TF.js 4.22's WASM ``ReverseV2`` reads bool
    tensors as 4-byte elements (wrong values, and writes out of bounds that break later calls; found by
    test_compile's WASM run)."""
    if x.dtype == "DT_BOOL":
        as_int = _cast(b, f"{scope}/mask_as_int", x, "DT_INT32")
        return _cast(b, f"{scope}/mask_as_bool", _reverse_time(b, scope, as_int), "DT_BOOL")
    axis = b.const(f"{scope}/time_axis", [1], "DT_INT32")
    return b.op(
        f"{scope}/ReverseV2", "ReverseV2", [x, axis], x.shape, dtype=x.dtype, attr={"Tidx": attr_type("DT_INT32")}
    )


def _cast(b: GraphBuilder, name: str, x: Tensor, dtype: str) -> Tensor:
    attr = {"SrcT": attr_type(x.dtype), "DstT": attr_type(dtype), "Truncate": attr_bool(False)}
    return b.op(name, "Cast", [x], x.shape, dtype=dtype, typed=False, attr=attr)


def _step_masks(b: GraphBuilder, scope: str, mask: Tensor, steps: int) -> list[Tensor]:
    """A ``[batch, steps]`` bool mask as one ``[batch, 1]`` bool tensor per step (one ExpandDims, one Unpack)."""
    if mask.rank != 2 or mask.shape[1] != steps or mask.dtype != "DT_BOOL":
        raise NotCoveredError("its mask is not a [batch, steps] bool tensor")
    expanded = b.expand_dims(f"{scope}/mask", mask, 2)
    name = b.node(
        f"{scope}/mask_steps",
        "Unpack",
        [expanded],
        {"T": attr_type("DT_BOOL"), "axis": attr_int(1), "num": attr_int(steps)},
    )
    return [Tensor(f"{name}:{t}" if t else name, (mask.shape[0], 1), "DT_BOOL") for t in range(steps)]


def _select(b: GraphBuilder, scope: str, keep: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return b.op(f"{scope}/SelectV2", "SelectV2", [keep, new, old], new.shape)


def _zeros(b: GraphBuilder, scope: str, like: Tensor) -> Tensor:
    return b.op(f"{scope}/ZerosLike", "ZerosLike", [like], like.shape)


def _sequence(b: GraphBuilder, scope: str, outputs: list[Tensor]) -> Tensor:
    return b.op(
        f"{scope}/stack",
        "Pack",
        outputs,
        (outputs[0].shape[0], len(outputs), *outputs[0].shape[1:]),
        attr={"N": attr_int(len(outputs)), "axis": attr_int(1)},
    )


# The options of a generic ``RNN`` layer that apply to the cell it runs.
_RNN_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful", "time_major", "zero_output_for_mask")


def recurrent_kind(class_name: Any, config: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(SimpleRNN | LSTM | GRU, settings)`` of a recurrent layer: one of those layers, or ``RNN`` over one of
    their cells (the cell's settings with the layer's options); None for anything else."""
    if class_name in STEPS:
        return str(class_name), config
    cell = config.get("cell")
    if (
        class_name != "RNN"
        or not isinstance(cell, dict)
        or str(cell.get("class_name")).removesuffix("Cell") not in STEPS
    ):
        return None
    options = {key: config[key] for key in _RNN_OPTIONS if key in config}
    return str(cell["class_name"]).removesuffix("Cell"), {
        **(cell.get("config") or {}),
        **options,
        "name": config.get("name"),
    }


@layer("SimpleRNN", "LSTM", "GRU", "RNN", kwargs=("mask", "initial_state"))
def recurrent(call: LayerCall) -> list[Tensor]:
    kind, cfg = _inner({"class_name": call.class_name, "config": call.config})
    run = _run(
        call, call.single_input(), kind, cfg, [call.name], call.scope, sequence=bool(cfg.get("return_sequences"))
    )
    main = run.sequence if run.sequence is not None else run.last
    return [main, *run.state] if cfg.get("return_state") else [main]


@layer("ConvLSTM2D")
def conv_lstm(call: LayerCall) -> list[Tensor]:
    """An LSTM whose kernels are convolutions over ``[batch, steps, h, w, c]`` frames, unrolled over its steps."""
    cfg, x = call.config, call.single_input()
    call.require(cfg.get("data_format", "channels_last") == "channels_last", "channels_first is not translated yet")
    call.require(not cfg.get("stateful"), "stateful RNNs are not translated yet")
    call.require(
        x.rank == 5 and all(d is not None for d in x.shape[1:]), "its input has dimensions unknown before run time"
    )
    padding = str(cfg.get("padding", "valid")).upper()
    call.require(padding in ("SAME", "VALID"), f"padding {padding.lower()!r} is not translated")
    kernel, recurrent_kernel, bias = _cell_weights(call, [call.name])
    window = Window(
        pair(cfg.get("kernel_size"), 2), pair(cfg.get("strides", 1), 2), pair(cfg.get("dilation_rate", 1), 2), padding
    )
    use_bias = bias if cfg.get("use_bias", True) else None
    steps = known(x.shape[1], "the sequence length")
    call.require(
        steps <= MAX_UNROLLED_STEPS,
        f"its {steps} steps are more than the {MAX_UNROLLED_STEPS} this compiler unrolls, and ConvLSTM2D has no "
        "loop form here yet",
    )
    r = ConvRecurrence(call.builder, call.scope, "LSTM", cfg, kernel, recurrent_kernel, use_bias, window)
    call.builder.unrolled[call.name] = steps
    run = _run_unrolled(r, x, None, [], sequence=bool(cfg.get("return_sequences")))
    main = run.sequence if run.sequence is not None else run.last
    return [main, *run.state] if cfg.get("return_state") else [main]


def _inner(value: Any) -> tuple[str, dict[str, Any]]:
    found = (
        recurrent_kind(value.get("class_name"), dict(value.get("config") or {})) if isinstance(value, dict) else None
    )
    if found is None:
        raise NotCoveredError("only SimpleRNN, LSTM and GRU layers (or RNN over their cells) are translated here")
    return found


@layer("Bidirectional", kwargs=("mask",))
def bidirectional(call: LayerCall) -> list[Tensor]:
    """Forward and backward layers; the backward sequence is put back in time order before merging, as Keras does."""
    b, x = call.builder, call.single_input()
    kind, forward = _inner(call.option("layer"))
    backward_entry = call.option("backward_layer")
    back_kind, backward = (
        _inner(backward_entry)
        if backward_entry
        else (
            kind,
            {**forward, "go_backwards": not forward.get("go_backwards"), "name": f"backward_{forward.get('name')}"},
        )
    )
    results, states = [], []
    # Keras 3 configs name the inner layers as their weights are stored; Keras 2 stores the forward layer's
    # weights under "forward_<name>".
    for direction, direction_kind, cfg in (("forward", kind, forward), ("backward", back_kind, backward)):
        inner = str(cfg.get("name"))
        prefixes = [f"{call.name}/{inner}", f"{call.name}/{direction}_{inner}"]
        inner_scope = f"{call.scope}/{inner}"
        sequences = bool(cfg.get("return_sequences"))
        run = _run(call, x, direction_kind, cfg, prefixes, inner_scope, sequence=sequences)
        states += run.state
        if run.sequence is None:
            results.append(run.last)
        else:  # the backward sequence back in time order
            reverse = cfg.get("go_backwards")
            results.append(_reverse_time(b, inner_scope, run.sequence) if reverse else run.sequence)
    # With return_state, the forward layer's final states follow the output(s), then the backward layer's.
    return _merge_directions(call, *results) + (states if forward.get("return_state") else [])


def _merge_directions(call: LayerCall, forward: Tensor, backward: Tensor) -> list[Tensor]:
    b = call.builder
    mode = call.option("merge_mode", "concat")
    if mode == "concat":
        return [b.concat(call.scope, [forward, backward], -1)]
    if mode is None:
        return [forward, backward]
    ops = {"sum": "AddV2", "mul": "Mul", "ave": "AddV2"}
    if mode not in ops:
        raise NotCoveredError(f"merge_mode {mode!r} is not translated")
    merged = b.binary(call.scope, ops[mode], forward, backward)
    return [b.binary(call.scope, "RealDiv", merged, b.scalar(call.scope, 2.0)) if mode == "ave" else merged]


def output_count(entry: dict[str, Any]) -> int:
    """How many tensors an RNN layer call returns (``return_state`` adds the states, of both directions for
    Bidirectional)."""
    cfg = entry.get("config") or {}
    class_name = entry.get("class_name")
    if class_name == "Bidirectional":
        inner = cfg.get("layer")
        found = recurrent_kind(inner.get("class_name"), inner.get("config") or {}) if isinstance(inner, dict) else None
        outputs = 2 if cfg.get("merge_mode", "concat") is None else 1
        return outputs + (2 * len(_state_names(found[0])) if found and found[1].get("return_state") else 0)
    found = ("LSTM", cfg) if class_name == "ConvLSTM2D" else recurrent_kind(class_name, cfg)
    if found is not None and cfg.get("return_state"):
        return 1 + len(_state_names(found[0]))
    return 1
