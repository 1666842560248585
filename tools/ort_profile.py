"""onnxruntime's own profile of a model: time per operator type (or per resolution
level of the node's output, or per node), top first.

python tools/ort_profile.py [--model qpi | --file M.onnx] [--precision int8] [--size 2048]
    [--frames 5] [--by op|level|node]
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.infer.model import SessionConfig, _session_options, shipped_model_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qpi")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--file", type=Path, default=None, help="a model file instead of --model")
    ap.add_argument("--by", choices=("op", "level", "node"), default="op")
    args = ap.parse_args()
    path = args.file or shipped_model_path(args.model, args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        opts = _session_options(SessionConfig())
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), sess_options=opts)
        inp = session.get_inputs()[0]
        planes = inp.shape[1] if isinstance(inp.shape[1], int) else 1
        x = np.random.default_rng(0).random((1, planes, args.size, args.size), np.float32)
        session.run(None, {inp.name: x})  # warm-up, profiled too: dropped below
        for _ in range(args.frames):
            session.run(None, {inp.name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("name") == "model_run"]
    per_op: collections.Counter[str] = collections.Counter()
    warm_end = runs[0]["ts"] + runs[0]["dur"]
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > warm_end:
            per_op[_key(e, args.by, args.size)] += e["dur"]
    total = sum(per_op.values())
    run_ms = np.median([r["dur"] for r in runs[1:]]) / 1e3
    print(
        f"{path.name}, {args.size}x{args.size}, median model_run {run_ms:.1f} ms over {args.frames}"
    )
    print(f"{args.by:<28}{'ms / frame':>12}{'share':>8}")
    for op, us in per_op.most_common(10 if args.by != "level" else None):
        print(f"{op[:27]:<28}{us / 1e3 / args.frames:>12.1f}{us / total:>8.1%}")


def _key(event: dict, by: str, size: int) -> str:
    """The operator, the node, or the output's resolution level (/1, /2, ...): the side
    that appears twice in the output shape (square frames)."""
    if by == "op":
        return str(event["args"]["op_name"])
    if by == "node":
        return f"{event['name'].removesuffix('_kernel_time')} ({event['args']['op_name']})"
    shapes = [dims for out in event["args"].get("output_type_shape", []) for dims in out.values()]
    sides = [d for dims in shapes[:1] for d in dims[1:] if d > 1 and dims[1:].count(d) >= 2]
    return f"/{size // max(sides)}" if sides else "other"


if __name__ == "__main__":
    main()
