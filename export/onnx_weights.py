"""An exported or shipped ONNX model's weights, read back into its torch model, so a
model that ships without a training checkpoint can be fine-tuned (``aglu-train adapt``).

What export did, undone:
- int8 weights and biases (DequantizeLinear of initialisers) are dequantised: the
  int8 rounding stays in the weights (per channel, under 0.5% of each channel's range).
- Batch norms were folded into the convolution before them (``W' = W g / s``,
  ``b' = beta - mean g / s``): the convolution gets ``W'``, the batch norm is set so
  that it adds ``b'`` in eval mode exactly *and*, in training mode, on the lab's data:
  its running mean and variance are the folded convolution's output statistics on
  those fields, its scale their spread and its shift their mean plus ``b'``. So the
  first fine-tuning steps start from the shipped function, not from a renormalised one.
- ``blocked_shuffle`` (``export.rewrites``) reordered the output channels of each
  convolution before a pixel shuffle: put back.
- Export kept the inference path only: the input VAE's decoder and the DAPI VAE's
  encoder are not in the file. They stay at their initialisation, and
  ``missing_auxiliary`` lists them so a fine-tuning recipe turns their loss terms off.

``read_back_error`` checks the result: the torch model against the ONNX file itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from edge.errors import ModelError
from export.onnx_index import Graph, attr
from export.rewrites import depth_first_order
from training.config import TrainConfig

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
AUXILIARY = ("qpi_vae.decoder", "dapi_vae.encoder")  # trained, but not in an export
STAT_BATCHES = 6


@dataclass(frozen=True, slots=True)
class ConvWeights:
    key: str  # the torch convolution's path, e.g. "translator.enc0.0.0"
    weight: F32
    bias: F32 | None
    folded_bias: bool  # the bias came from a folded batch norm (named "<conv>.weight_bias")


def _dequantize(g: Any, name: str) -> F32:
    """An initialiser, or a DequantizeLinear of initialisers, as float32."""
    if name in g.inits:
        return np.asarray(g.array(name), np.float32)
    node = g.producer.get(name)
    if node is None or node.op_type != "DequantizeLinear":
        raise ModelError(name, "a convolution parameter that is neither stored nor dequantised")
    q, scale, *rest = (g.array(i) for i in node.input)
    zero = rest[0] if rest else np.zeros_like(scale)
    axis = attr(node, "axis", 1)
    shape = [1] * q.ndim
    if scale.ndim and q.ndim > 1:
        shape[axis] = -1
    elif q.ndim == 1:
        shape = [-1] if scale.ndim else [1]
    values = (q.astype(np.float64) - zero.reshape(shape)) * scale.reshape(shape)
    return np.asarray(values, np.float32)


def _reaches(g: Any, name: str) -> Any | None:
    """The one node past quantisation pairs that consumes ``name`` (None: several);
    Shape nodes (the rewrites read shapes) do not count."""
    seen = name
    while True:
        users = [u for u in g.consumers.get(seen, []) if u.op_type != "Shape"]
        if len(users) != 1:
            return None
        if users[0].op_type not in ("QuantizeLinear", "DequantizeLinear"):
            return users[0]
        seen = users[0].output[0]


def conv_weights(path: Path) -> Iterator[tuple[ConvWeights, Any]]:
    """Every convolution of the file: its weights and the node its output reaches."""
    import onnx

    g = Graph(onnx.load(str(path)).graph)
    for node in g.graph.node:
        if node.op_type != "Conv":
            continue
        w_name = node.input[1]
        dq = g.producer.get(w_name)
        stored = dq.input[0] if dq is not None and dq.op_type == "DequantizeLinear" else w_name
        key = stored.removesuffix("_quantized").removesuffix(".weight")
        bias = _dequantize(g, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        b_name = node.input[2] if bias is not None else ""
        b_stored = g.producer[b_name].input[0] if b_name in g.producer else b_name
        folded = b_stored.removesuffix("_quantized").endswith(".weight_bias")
        yield ConvWeights(key, _dequantize(g, w_name), bias, folded), _reaches(g, node.output[0])


def _blocked(user: Any | None) -> bool:
    """Whether ``blocked_shuffle`` moved this convolution's output (its Transpose's
    output is named ``*_blocked_nhwc``)."""
    return (
        user is not None
        and user.op_type == "Transpose"
        and any(o.endswith("_blocked_nhwc") for o in user.output)
    )


def _unblock(w: F32, b: F32 | None, block: int) -> tuple[F32, F32 | None]:
    """Undo ``blocked_shuffle``'s channel order (depth first) to the pixel shuffle's."""
    inverse = np.argsort(depth_first_order(w.shape[0] // (block * block), block))
    return w[inverse], None if b is None else b[inverse]


def _unfolded(w: F32, shape: tuple[int, ...]) -> F32:
    """Undo ``fold_unshuffle``: a (o, c, b k, b k) stride-b kernel on the frame back to
    the (o, c b b, k, k) kernel after pixel_unshuffle(b); other kernels as they are."""
    o, c, kh, kw = w.shape
    if tuple(w.shape) == shape or len(shape) != 4 or shape[0] != o or shape[1] % c:
        return w
    b = round((shape[1] // c) ** 0.5)
    if b < 2 or b * b * c != shape[1] or (kh, kw) != (b * shape[2], b * shape[3]):
        return w
    split = w.reshape(o, c, shape[2], b, shape[3], b)  # (o, c, i, a, j, bb)
    return np.ascontiguousarray(split.transpose(0, 1, 3, 5, 2, 4).reshape(shape))


def _module(model: nn.Module, key: str) -> nn.Module:
    mod = model
    for part in key.split("."):
        mod = getattr(mod, part)
    return mod


def _following(model: nn.Module, key: str) -> tuple[str, nn.Module]:
    """The module after the convolution ``key`` in its Sequential, and its key."""
    parent, _, last = key.rpartition(".")
    after = f"{parent}.{int(last) + 1}"
    return after, _module(model, after)


def load_weights(model: nn.Module, path: Path) -> dict[str, F32]:
    """Put the file's convolution weights into ``model``; the folded biases by the key of
    the batch norm that must add them (set by ``fit_norms``)."""
    loaded, folded = 0, {}
    with torch.no_grad():
        for cw, user in conv_weights(path):
            conv = _module(model, cw.key)
            if not isinstance(conv, nn.Conv2d):
                raise ModelError(str(path), f"{cw.key} is not a convolution of the recipe's model")
            w, b = cw.weight, cw.bias
            if _blocked(user):
                w, b = _unblock(w, b, _shuffle_block(model, cw.key))
            w = _unfolded(w, tuple(conv.weight.shape))
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ModelError(
                    str(path),
                    f"{cw.key}: weight {w.shape} vs the recipe's {tuple(conv.weight.shape)}",
                )
            conv.weight.copy_(torch.tensor(w))
            if cw.folded_bias:
                assert b is not None
                folded[_norm_key(model, cw.key)] = b
            elif b is not None:
                if conv.bias is None:
                    raise ModelError(str(path), f"{cw.key}: a bias the recipe's model lacks")
                conv.bias.copy_(torch.tensor(b))
            loaded += 1
    logger.info(
        "%s: %d convolutions read back, %d with folded batch norms", path.name, loaded, len(folded)
    )
    return folded


def _norm_key(model: nn.Module, key: str) -> str:
    """The batch norm after the convolution ``key``, which export folded into it."""
    after, norm = _following(model, key)
    if not isinstance(norm, nn.BatchNorm2d):
        raise ModelError(key, "a folded bias, but no batch norm after the convolution")
    return after


def _shuffle_block(model: nn.Module, key: str) -> int:
    shuffle = _following(model, key)[1]
    if not isinstance(shuffle, nn.PixelShuffle):
        raise ModelError(key, "reordered for a pixel shuffle, but none follows it in the model")
    return int(shuffle.upscale_factor)


def fit_norms(model: nn.Module, folded: dict[str, F32], batches: list[torch.Tensor]) -> None:
    """Set each folded batch norm from its input's statistics on ``batches`` (see the
    module docstring): eval output unchanged, training output the same on this data."""
    norms = {k: _module(model, k) for k in folded}
    for key, norm in norms.items():  # identity plus the folded bias: exact in eval mode
        assert isinstance(norm, nn.BatchNorm2d)
        assert norm.running_mean is not None and norm.running_var is not None
        with torch.no_grad():
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.tensor(folded[key]))
    sums: dict[str, list[torch.Tensor]] = {k: [] for k in norms}

    def hook(key: str) -> Any:
        def record(_m: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
            x = inputs[0].detach().transpose(0, 1).reshape(inputs[0].shape[1], -1)
            sums[key].append(torch.stack([x.mean(1), (x * x).mean(1)]))

        return record

    handles = [n.register_forward_hook(hook(k)) for k, n in norms.items()]
    model.eval()
    try:
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        for key, norm in norms.items():
            assert isinstance(norm, nn.BatchNorm2d)
            assert norm.running_mean is not None and norm.running_var is not None
            mean, square = torch.stack(sums[key]).mean(0)
            var = (square - mean * mean).clamp_min(0.0)
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.weight.copy_(torch.sqrt(var + norm.eps))
            norm.bias.copy_(mean + torch.tensor(folded[key]))


def missing_auxiliary(model: nn.Module) -> tuple[str, ...]:
    """The auxiliary parts of the model an export does not hold."""
    return tuple(a for a in AUXILIARY if _has(model, a))


def _has(model: nn.Module, key: str) -> bool:
    try:
        _module(model, key)
    except AttributeError:
        return False
    return True


def read_back_error(model: nn.Module, path: Path, frames: list[F32]) -> float:
    """Largest |torch - ONNX| of the DAPI output over ``frames`` (normalised inputs), as a
    share of the ONNX output's range."""
    from edge.infer.model import SessionConfig, load_model

    loaded = load_model(path, SessionConfig())
    worst = 0.0
    model.eval()
    for x in frames:
        ref = loaded.session.run(["dapi"], {loaded.input_name: x[None]})[0][0, 0]
        with torch.no_grad():
            out = model(torch.from_numpy(x[None]))
        ours = (out[0] if isinstance(out, tuple) else out)[0, 0].numpy()
        span = float(ref.max() - ref.min()) or 1.0
        worst = max(worst, float(np.abs(ours - ref).max()) / span)
    return worst


def checkpoint_from_onnx(
    path: Path, cfg: TrainConfig, data: TrainConfig, out: Path
) -> tuple[Path, tuple[str, ...]]:
    """A fine-tuning checkpoint (``fit``'s format) of the ONNX model ``path`` trained with
    recipe ``cfg``, its batch norms fitted on the training fields of ``data`` (a recipe
    with ``cfg``'s normalisation rules), written to ``out``; and the model parts the file
    does not hold (``missing_auxiliary``)."""
    from edge.infer.model import SessionConfig, load_model
    from training.config import AugmentSection
    from training.data.augment import crop_stream, random_batch
    from training.data.fields import build_fields
    from training.models.build import build_model

    card = load_model(path, SessionConfig()).card
    if card.recipe_sha256 != cfg.sha256():
        raise ModelError(str(path), "the recipe beside it is not the one it was trained with")
    model = build_model(cfg)
    folded = load_weights(model, path)
    fields = build_fields(cfg.model_copy(update={"data": data.data}), "train")
    rng = crop_stream(0, 0, 99)
    plain = AugmentSection(
        flips=False, intensity_scale=(1.0, 1.0), intensity_shift=0.0, noise_std=0.0
    )
    batches = [
        torch.from_numpy(random_batch(fields, 8, cfg.data.crop_px, rng, plain, 0.5)[0])
        for _ in range(STAT_BATCHES)
    ]
    fit_norms(model, folded, batches)
    error = read_back_error(model, path, [b.numpy()[0] for b in batches[:2]])
    missing = missing_auxiliary(model)
    logger.info("%s read back: max |torch - ONNX| %.2e of the output range", path.name, error)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": model.state_dict(),
            "config": cfg.model_dump(mode="json"),
            "stages": [],
            "read_back": {
                "from": str(path),
                "max_error_of_range": error,
                "missing_auxiliary": list(missing),
            },
        },
        out,
    )
    return out, missing
