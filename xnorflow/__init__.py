"""xnorflow: binary neural networks from training to an FPGA."""

__version__ = "0.1.0"
