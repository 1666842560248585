"""Rewrites of an exported graph that keep its weights and its numbers and run faster in
onnxruntime on the CPU (issue 16). Each one is exact arithmetic (int8 graphs: up to the
order of float sums in the first, fp32 convolution); ``check_same`` measures it.

- ``fold_unshuffle``: PixelUnshuffle(b) followed by a k x k convolution is one
  (b k) x (b k) convolution of stride b on the frame itself: no 6-D transpose of the
  input.
- ``blocked_shuffle``: a PixelShuffle (DepthToSpace, CRD) after a convolution becomes
  channel-last block moves. onnxruntime runs int8 convolutions channel-last and its
  DepthToSpace channel-first, element by element, with a transpose on either side; with
  the convolution's output channels reordered (depth first), the shuffle moves runs of
  2 x C contiguous values.
- ``plain_softplus``: torch exports softplus as Where(x > 20, x, Softplus(x)); onnxruntime's
  Softplus already returns x exactly there (float32: x + log(1 + e^-x) == x for x > 17).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.infer.card import CARD_KEY
from export.onnx_index import Graph, attr

# torch's pixel_unshuffle: (N, C, H/b, b, W/b, b) -> (N, C, b, b, H/b, W/b)
UNSHUFFLE_PERM = (0, 1, 3, 5, 2, 4)
SOFTPLUS_EXACT_ABOVE = 17.0  # float32: x + log1p(exp(-x)) rounds to x from here up


def _per_channel(g: Graph, name: str) -> list[str]:
    """The initialisers holding a conv weight or bias by output channel: the tensor itself,
    or a DequantizeLinear's quantised values, scales and zero points (axis 0)."""
    if name in g.inits:
        return [name]
    dq = g.producer.get(name)
    if dq is None or dq.op_type != "DequantizeLinear" or not all(i in g.inits for i in dq.input):
        return []
    channelwise = [i for i in dq.input[1:] if g.array(i).ndim > 0]
    if channelwise and attr(dq, "axis", 1) != 0:
        return []
    return [dq.input[0], *channelwise]


def _conv_before(g: Graph, name: str) -> Any | None:
    """The Conv whose output reaches ``name`` alone, directly or through one
    per-tensor QuantizeLinear -> DequantizeLinear pair."""
    node = g.producer.get(name)
    if node is not None and node.op_type == "DequantizeLinear":
        q = g.producer.get(node.input[0])
        if q is None or q.op_type != "QuantizeLinear" or g.only_consumer(q.output[0]) is None:
            return None
        if any(g.array(i).ndim for i in node.input[1:] if i in g.inits):
            return None
        node = g.producer.get(q.input[0])
    if node is None or node.op_type != "Conv" or g.only_consumer(node.output[0]) is None:
        return None
    return node


def depth_first_order(channels: int, block: int) -> list[int]:
    """``blocked_shuffle``'s output-channel order: CRD (the pixel shuffle's) -> DCR."""
    return [ch * block * block + s for s in range(block * block) for ch in range(channels)]


def blocked_shuffle(g: Graph) -> int:
    """DepthToSpace (CRD) after a convolution -> channel-last block moves."""
    from onnx import helper

    done = 0
    for d2s in [n for n in g.graph.node if n.op_type == "DepthToSpace"]:
        b = int(attr(d2s, "blocksize"))
        conv = _conv_before(g, d2s.input[0]) if attr(d2s, "mode", "DCR") == "CRD" else None
        if conv is None or g.only_consumer(d2s.input[0]) is None:
            continue
        quantised = g.consumers[conv.output[0]][0]
        if quantised.op_type != "QuantizeLinear":
            continue  # float: onnxruntime's NCHWc layout, where its DepthToSpace is faster
        groups = [_per_channel(g, i) for i in conv.input[1:]]
        if not all(groups):
            continue  # a weight or bias computed in the graph
        tensors = [t for group in groups for t in group]
        if any(len(g.consumers.get(t, [])) != 1 for t in tensors):
            continue  # shared with another node
        cout = g.array(tensors[0]).shape[0]
        if cout % (b * b) or any(g.array(t).shape[0] != cout for t in tensors):
            continue
        order = depth_first_order(cout // (b * b), b)
        for t in tensors:
            g.set_array(t, g.array(t)[order])
        x, y, p = d2s.input[0], d2s.output[0], f"{d2s.name}_blocked"
        # The shape from the conv's quantised output: a Shape of the float tensor would
        # make onnxruntime dequantise all of it.
        sized = quantised.output[0]
        nodes = [
            helper.make_node("Transpose", [x], [f"{p}_nhwc"], perm=[0, 2, 3, 1]),
            helper.make_node("Shape", [sized], [f"{p}_nchw_shape"]),
            helper.make_node(
                "Gather",
                [f"{p}_nchw_shape", g.const(f"{p}_to_nhwc", np.array([0, 2, 3, 1]))],
                [f"{p}_shape"],
            ),
            helper.make_node(
                "Mul", [f"{p}_shape", g.const(f"{p}_grow", np.array([1, b, b, 1]))], [f"{p}_m"]
            ),
            helper.make_node(
                "Div", [f"{p}_m", g.const(f"{p}_shrink", np.array([1, 1, 1, b * b]))], [f"{p}_to"]
            ),
            helper.make_node(
                "Reshape",
                [f"{p}_nhwc", g.const(f"{p}_split", np.array([0, 0, 0, b, b, -1]))],
                [f"{p}_split6"],
            ),
            helper.make_node("Transpose", [f"{p}_split6"], [f"{p}_moved"], perm=[0, 1, 3, 2, 4, 5]),
            helper.make_node("Reshape", [f"{p}_moved", f"{p}_to"], [f"{p}_big"]),
            helper.make_node("Transpose", [f"{p}_big"], [y], perm=[0, 3, 1, 2]),
        ]
        g.replace(d2s, nodes)
        done += 1
    return done


def _data_consumer(g: Graph, name: str) -> Any | None:
    """The one node reading ``name``'s values (Shape nodes read only its shape)."""
    users = [n for n in g.consumers.get(name, []) if n.op_type != "Shape"]
    return users[0] if len(users) == 1 else None


def _unshuffle_chain(g: Graph, start: str) -> tuple[list[Any], bool]:
    """The Reshape/Transpose nodes from the graph input ``start`` to the first other node,
    and whether one of them is pixel_unshuffle's transpose."""
    chain, name, seen = [], start, False
    while (node := _data_consumer(g, name)) is not None and node.op_type in (
        "Reshape",
        "Transpose",
    ):
        seen |= node.op_type == "Transpose" and tuple(attr(node, "perm")) == UNSHUFFLE_PERM
        chain.append(node)
        name = node.output[0]
    return chain, seen


def fold_unshuffle(g: Graph) -> int:
    """Graph input -> pixel_unshuffle(b) -> Conv(k, pad p) => Conv(b k, stride b, pad b p)."""
    from onnx import helper

    done = 0
    for inp in g.graph.input:
        dims = inp.type.tensor_type.shape.dim
        planes = dims[1].dim_value if len(dims) == 4 and dims[1].HasField("dim_value") else 0
        chain, seen = _unshuffle_chain(g, inp.name)
        conv = _data_consumer(g, chain[-1].output[0]) if chain else None
        if not (seen and planes and conv is not None and conv.op_type == "Conv"):
            continue
        w_name = conv.input[1]
        if (
            w_name not in g.inits
            or len(g.consumers[w_name]) != 1
            or conv.input[0] != chain[-1].output[0]
        ):
            continue
        w = g.array(w_name)
        b = round((w.shape[1] / planes) ** 0.5)
        stride, dil = attr(conv, "strides", [1, 1]), attr(conv, "dilations", [1, 1])
        if b < 2 or b * b * planes != w.shape[1] or attr(conv, "group", 1) != 1:
            continue
        if (
            list(stride) != [1, 1]
            or list(dil) != [1, 1]
            or attr(conv, "auto_pad", "NOTSET") != "NOTSET"
        ):
            continue
        o, _, kh, kw = w.shape
        # (o, c, a, bb, i, j) -> (o, c, i, a, j, bb): full-res offset b*i + a, b*j + bb
        folded = w.reshape(o, planes, b, b, kh, kw).transpose(0, 1, 4, 2, 5, 3)
        g.set_array(w_name, folded.reshape(o, planes, b * kh, b * kw))
        pads = [b * int(p) for p in attr(conv, "pads", [0, 0, 0, 0])]
        new = helper.make_node(
            "Conv",
            [inp.name, *conv.input[1:]],
            list(conv.output),
            name=conv.name,
            kernel_shape=[b * kh, b * kw],
            strides=[b, b],
            pads=pads,
        )
        g.replace(conv, [new])
        done += 1
    g.prune()
    return done


def plain_softplus(g: Graph) -> int:
    """Where(Greater(x, t), x, Softplus(x)) with t >= 17 -> Softplus(x)."""
    done = 0
    for where in [n for n in g.graph.node if n.op_type == "Where"]:
        cond, _, other = (g.producer.get(i) for i in where.input)
        if (
            cond is None
            or other is None
            or cond.op_type != "Greater"
            or other.op_type != "Softplus"
        ):
            continue
        t = cond.input[1]
        if cond.input[0] != where.input[1] or other.input[0] != where.input[1] or t not in g.inits:
            continue
        if float(np.min(g.array(t))) < SOFTPLUS_EXACT_ABOVE:
            continue
        out = where.output[0]
        for user in g.consumers.get(out, []):
            user.input[:] = [other.output[0] if i == out else i for i in user.input]
        for o in g.graph.output:
            if o.name == out:  # keep the output's name: rename the softplus instead
                other.output[0] = out
        done += 1
    g.prune()
    return done


REWRITES: dict[str, Callable[[Graph], int]] = {
    "fold_unshuffle": fold_unshuffle,
    "blocked_shuffle": blocked_shuffle,
    "plain_softplus": plain_softplus,
}
# A rewrite is kept only where no output moves by more than this fraction of its range on
# the probe frames: float rounding (1e-6) passes; an int8 activation that flips a
# quantisation level (fold_unshuffle before an int8 graph's first Q) does not.
TOLERANCE = 1e-5


@dataclass(frozen=True, slots=True)
class Rewrite:
    name: str
    places: int
    max_error: float  # the largest |output change| over the probes, as a fraction of range
    kept: bool


def apply(model: Any, rewrites: Sequence[str] = tuple(REWRITES)) -> dict[str, int]:
    """Apply ``rewrites`` to ``model`` (an onnx ModelProto, changed in place), unchecked;
    returns how many places each one changed."""
    g = Graph(model.graph)
    return {name: REWRITES[name](g) for name in rewrites}


def probe_frames(planes: int, seed: int = 0) -> list[npt.NDArray[np.float32]]:
    """Frames that exercise the rewrites: noise, a smooth field with flat (clipped)
    regions, at two sizes that are multiples of 32 (one not square)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((1, planes, 256, 320), dtype=np.float32)
    yy, xx = np.mgrid[0:384, 0:384].astype(np.float32) / 384
    smooth = np.clip(1.6 * np.sin(6 * xx) * np.cos(5 * yy), 0, 1)
    field = np.broadcast_to(smooth, (1, planes, 384, 384)).astype(np.float32)
    return [noise, field]


def relayout(model: Any, probes: Sequence[npt.NDArray[np.float32]]) -> list[Rewrite]:
    """Apply each rewrite in turn to ``model`` (changed in place), keeping it only where
    the outputs on ``probes`` stay within ``TOLERANCE`` of the original graph's."""
    import onnx

    reference = _outputs(model.SerializeToString(), probes)  # the original, run once
    report = []
    for name in REWRITES:
        trial = onnx.load_from_string(model.SerializeToString())
        places = apply(trial, (name,))[name]
        if not places:
            report.append(Rewrite(name, 0, 0.0, False))
            continue
        onnx.checker.check_model(trial)
        error = max(_worst(reference, _outputs(trial.SerializeToString(), probes)).values())
        kept = error <= TOLERANCE
        if kept:
            model.CopyFrom(trial)
        report.append(Rewrite(name, places, error, kept))
    return report


def _outputs(
    model: bytes, frames: Sequence[npt.NDArray[np.float32]]
) -> list[dict[str, npt.NDArray[np.float32]]]:
    """The graph's outputs by name, per frame (1, planes, H, W), on onnxruntime's CPU."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name, names = session.get_inputs()[0].name, [o.name for o in session.get_outputs()]
    return [dict(zip(names, session.run(None, {name: x}), strict=True)) for x in frames]


def _worst(
    before: list[dict[str, npt.NDArray[np.float32]]],
    after: list[dict[str, npt.NDArray[np.float32]]],
) -> dict[str, float]:
    """Largest |difference| per output, as a fraction of the output's range in ``before``."""
    worst: dict[str, float] = {}
    for outs_a, outs_b in zip(before, after, strict=True):
        for key, ya in outs_a.items():
            err = float(np.max(np.abs(ya - outs_b[key]))) / (float(np.ptp(ya)) or 1.0)
            worst[key] = max(worst.get(key, 0.0), err)
    return worst


def check_same(
    before: bytes, after: bytes, frames: Sequence[npt.NDArray[np.float32]]
) -> dict[str, float]:
    """Largest |difference| per output between two graphs over ``frames`` (1, planes, H, W),
    as a fraction of the output's range in ``before``."""
    return _worst(_outputs(before, frames), _outputs(after, frames))


def relayout_file(src: Path, dst: Path, require_card: bool = True) -> list[Rewrite]:
    """``relayout`` an ONNX file (probed with ``probe_frames`` of its input planes) into
    ``dst`` (written whole, then renamed: ``src`` may be ``dst``). The model card and all
    other metadata are kept. ``require_card``: refuse a file without an AGLU model card
    (``aglu-relayout`` rewrites aglu-export files; the export itself relayouts before
    it stamps the card)."""
    import onnx

    from edge.errors import ModelError

    if not src.is_file():
        raise ModelError(str(src), "no such file")
    _check_destination(dst)
    try:
        model = onnx.load(str(src))
    except Exception as exc:
        raise ModelError(str(src), f"not a readable ONNX file ({type(exc).__name__})") from None
    if require_card and not any(p.key == CARD_KEY for p in model.metadata_props):
        raise ModelError(str(src), "has no AGLU model card: not an aglu-export file")
    dims = model.graph.input[0].type.tensor_type.shape.dim if model.graph.input else []
    if len(dims) != 4:
        raise ModelError(str(src), "its input is not (batch, planes, height, width)")
    planes = dims[1].dim_value or 1
    report = relayout(model, probe_frames(planes))
    tmp = dst.with_name(f".{dst.name}.tmp")
    try:
        onnx.save(model, str(tmp))
        os.replace(tmp, dst)
    except OSError as exc:
        raise ModelError(str(dst), f"cannot write ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)  # never a .tmp left behind
    return report


def _check_destination(dst: Path) -> None:
    """``--out`` must be a file path in an existing folder (checked before any work)."""
    from edge.errors import ConfigError

    if dst.is_dir():
        raise ConfigError(f"--out {dst}", "is a folder: give the .onnx file to write")
    if not dst.parent.is_dir():
        raise ConfigError(f"--out {dst}", f"its folder {dst.parent} does not exist")
