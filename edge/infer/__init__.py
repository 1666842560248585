"""Inference: a QPI frame in, predicted DAPI and sigma out.

- ``model``: loading an ONNX model and its card into an onnxruntime session
- ``card``: the model card (modality, planes, normalisation, metrics)
- ``preprocess``: normalisation, planes, padding
- ``tiling``: tiled inference with a halo for large frames
- ``stainer``: one deterministic forward pass per frame
- ``serving``: a loaded, warmed-up model as the daemon serves it, and its checks
"""
