"""evoforge: evolve instruction data, train LoRA deltas, search merge weights, and repeat."""

__version__ = "0.1.0"
