"""The frontend: QONNX → FINN's HW-layer graph (finn_lowering) → the dataflow IR (from_finn)."""
