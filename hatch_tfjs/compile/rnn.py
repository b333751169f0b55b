"""SimpleRNN, LSTM, GRU (both ``reset_after`` modes) and Bidirectional, unrolled over a fixed sequence length.

The input projection ``x @ kernel + bias`` of every step is one fused MatMul over ``[batch * steps, features]``,
unstacked into steps; each step then adds ``h @ recurrent_kernel`` and applies Keras's cell equations
(keras/src/layers/rnn/*.py). The first step starts from zero states, so its recurrent terms are left out rather
than multiplied by zeros. A mask (an explicit ``mask=`` argument in Keras 3 functional models) keeps the previous
state at masked steps. Initial states, stateful layers and variable lengths are not translated yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hatch_tfjs.compile.activations import apply_activation
from hatch_tfjs.compile.builder import (
    GraphBuilder,
    NotCoveredError,
    Tensor,
    attr_bool,
    attr_int,
    attr_str,
    attr_type,
    known,
)
from hatch_tfjs.compile.registry import LayerCall, layer

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

    def split(self, x: Tensor, parts: int) -> list[Tensor]:
        axis = self.b.const(f"{self.scope}/split_axis", 1, "DT_INT32")
        name = self.b.node(
            f"{self.scope}/split", "Split", [axis, x], {"T": attr_type("DT_FLOAT"), "num_split": attr_int(parts)}
        )
        width = None if x.shape[1] is None else x.shape[1] // parts
        return [Tensor(f"{name}:{i}" if i else name, (x.shape[0], width)) for i in range(parts)]

    def add(self, a: Tensor, c: Tensor) -> Tensor:
        return self.b.binary(self.scope, "AddV2", a, c)

    def mul(self, a: Tensor, c: Tensor) -> Tensor:
        return self.b.binary(self.scope, "Mul", a, c)

    def input_bias(self) -> np.ndarray | None:
        if self.bias is None:
            return None
        return self.bias[0] if self.bias.ndim == 2 else self.bias

    def project(self, x: Tensor) -> list[Tensor]:
        """``x @ kernel + bias`` for every step at once, as one list of ``[batch, gates]`` tensors."""
        steps, features = known(x.shape[1], "the sequence length"), x.shape[2]
        width = self.kernel.shape[1]
        flat = self.b.reshape(f"{self.scope}/steps", x, (None, features))
        y = self.matmul(flat, self.kernel, "kernel")
        bias = self.input_bias()
        if bias is not None:
            y = self.b.op(
                f"{self.scope}/BiasAdd",
                "BiasAdd",
                [y, self.b.const(f"{self.scope}/bias", bias)],
                y.shape,
                attr={"data_format": attr_str("NHWC")},
            )
        y = self.b.reshape(f"{self.scope}/per_step", y, (None, steps, width))
        name = self.b.node(
            f"{self.scope}/unstack",
            "Unpack",
            [y],
            {"T": attr_type("DT_FLOAT"), "axis": attr_int(1), "num": attr_int(steps)},
        )
        return [Tensor(f"{name}:{t}" if t else name, (None, width)) for t in range(steps)]

    def step(self, xp: Tensor, state: State) -> State:
        return STEPS[self.kind](self, xp, state)


def _simple_rnn_step(r: Recurrence, xp: Tensor, state: State) -> State:
    """``h = act(x W + b + h U)``."""
    total = r.add(xp, r.matmul(state[0], r.recurrent_kernel, "recurrent_kernel")) if state else xp
    return [r.act(total)]


def _lstm_step(r: Recurrence, xp: Tensor, state: State) -> State:
    """Gates ``i, f, c, o`` of ``x W + h U + b``; ``c = f c + i act(c~)``, ``h = o act(c)``."""
    z = r.add(xp, r.matmul(state[0], r.recurrent_kernel, "recurrent_kernel")) if state else xp
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
            inner = r.matmul(state[0], r.recurrent_kernel, "recurrent_kernel")
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


def _run(
    call: LayerCall, x: Tensor, kind: str, cfg: dict[str, Any], prefixes: list[str], scope: str, mask: Tensor | None
) -> tuple[list[Tensor], State]:
    """Every step's output (in processing order) and the final state; ``mask`` ``[batch, steps]`` (bool) skips steps
    as Keras's ``rnn`` does."""
    if cfg.get("stateful") or cfg.get("time_major"):
        raise NotCoveredError("stateful and time-major RNNs are not translated yet")
    if x.rank != 3 or x.shape[1] is None or x.shape[2] is None:
        raise NotCoveredError(
            "the sequence length is not fixed: a variable length needs TF.js control flow, not translated yet"
        )
    kernel, recurrent_kernel, bias = _cell_weights(call, prefixes)
    recurrence = Recurrence(
        call.builder, scope, kind, cfg, kernel, recurrent_kernel, bias if cfg.get("use_bias", True) else None
    )
    steps = recurrence.project(x)
    keeps = _step_masks(call.builder, scope, mask, len(steps)) if mask is not None else [None] * len(steps)
    if cfg.get("go_backwards"):
        steps, keeps = steps[::-1], keeps[::-1]
    state: State = []
    outputs: list[Tensor] = []
    for xp, keep in zip(steps, keeps, strict=True):
        new = recurrence.step(xp, state)
        if keep is None:
            state = new
            outputs.append(state[0])
            continue
        # A masked step keeps the previous states (zeros before the first step); its output is the previous
        # output, or zeros with zero_output_for_mask.
        previous = state or [_zeros(call.builder, scope, t) for t in new]
        state = [_select(call.builder, scope, keep, n, p) for n, p in zip(new, previous, strict=True)]
        masked_output = _zeros(call.builder, scope, new[0]) if cfg.get("zero_output_for_mask") else previous[0]
        outputs.append(
            state[0]
            if not cfg.get("zero_output_for_mask")
            else _select(call.builder, scope, keep, new[0], masked_output)
        )
    return outputs, state


def _step_masks(b: GraphBuilder, scope: str, mask: Tensor, steps: int) -> list[Tensor | None]:
    """A ``[batch, steps]`` bool mask as one ``[batch, 1]`` bool tensor per step."""
    if mask.rank != 2 or mask.shape[1] != steps or mask.dtype != "DT_BOOL":
        raise NotCoveredError("its mask is not a [batch, steps] bool tensor")
    name = b.node(
        f"{scope}/mask_steps",
        "Unpack",
        [mask],
        {"T": attr_type("DT_BOOL"), "axis": attr_int(1), "num": attr_int(steps)},
    )
    return [
        b.expand_dims(f"{scope}/mask_step", Tensor(f"{name}:{t}" if t else name, (None,), "DT_BOOL"), 1)
        for t in range(steps)
    ]


def _select(b: GraphBuilder, scope: str, keep: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return b.op(f"{scope}/SelectV2", "SelectV2", [keep, new, old], new.shape)


def _zeros(b: GraphBuilder, scope: str, like: Tensor) -> Tensor:
    return b.op(f"{scope}/ZerosLike", "ZerosLike", [like], like.shape)


def _sequence(b: GraphBuilder, scope: str, outputs: list[Tensor]) -> Tensor:
    units = outputs[0].shape[1]
    return b.op(
        f"{scope}/stack",
        "Pack",
        outputs,
        (None, len(outputs), units),
        attr={"N": attr_int(len(outputs)), "axis": attr_int(1)},
    )


@layer("SimpleRNN", "LSTM", "GRU", kwargs=("mask",))
def recurrent(call: LayerCall) -> list[Tensor]:
    outputs, state = _run(
        call, call.single_input(), call.class_name, call.config, [call.name], call.scope, call.kwargs.get("mask")
    )
    main = _sequence(call.builder, call.scope, outputs) if call.option("return_sequences") else outputs[-1]
    return [main, *state] if call.option("return_state") else [main]


def _inner(value: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(value, dict) or value.get("class_name") not in STEPS:
        raise NotCoveredError("only SimpleRNN, LSTM and GRU are translated inside Bidirectional")
    return str(value["class_name"]), dict(value.get("config") or {})


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
    if forward.get("return_state") or backward.get("return_state"):
        raise NotCoveredError("Bidirectional with return_state is not translated yet")
    results = []
    # Keras 3 configs name the inner layers as their weights are stored; Keras 2 stores the forward layer's
    # weights under "forward_<name>".
    for direction, direction_kind, cfg in (("forward", kind, forward), ("backward", back_kind, backward)):
        inner = str(cfg.get("name"))
        prefixes = [f"{call.name}/{inner}", f"{call.name}/{direction}_{inner}"]
        outputs, _ = _run(call, x, direction_kind, cfg, prefixes, f"{call.scope}/{inner}", call.kwargs.get("mask"))
        if cfg.get("return_sequences"):
            ordered = outputs[::-1] if cfg.get("go_backwards") else outputs
            results.append(_sequence(b, f"{call.scope}/{cfg.get('name')}", ordered))
        else:
            results.append(outputs[-1])
    forward_out, backward_out = results
    mode = call.option("merge_mode", "concat")
    if mode == "concat":
        return [b.concat(call.scope, [forward_out, backward_out], -1)]
    if mode is None:
        return [forward_out, backward_out]
    ops = {"sum": "AddV2", "mul": "Mul", "ave": "AddV2"}
    if mode not in ops:
        raise NotCoveredError(f"merge_mode {mode!r} is not translated")
    merged = b.binary(call.scope, ops[mode], forward_out, backward_out)
    return [b.binary(call.scope, "RealDiv", merged, b.scalar(call.scope, 2.0)) if mode == "ave" else merged]


def output_count(entry: dict[str, Any]) -> int:
    """How many tensors an RNN layer call returns (``return_state`` adds the states)."""
    cfg = entry.get("config") or {}
    if entry.get("class_name") in STEPS and cfg.get("return_state"):
        return 3 if entry.get("class_name") == "LSTM" else 2
    if entry.get("class_name") == "Bidirectional" and cfg.get("merge_mode", "concat") is None:
        return 2
    return 1
