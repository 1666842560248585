"""AGLU export: torch checkpoint -> one ONNX graph -> int8 QDQ ONNX + model card + parity."""
