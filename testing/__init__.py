"""What the tests and the benchmarks share (as ``numpy.testing``), imported as ``evoforge.testing.<module>``:
tiny random models and LoRA adapters built from configs, no downloads (tiny_models.py); a toy merge problem whose
best weights are not obvious (merge_toy.py); the per-sample IFD reference, Cherry_LLM's way (ifd_reference.py).

Nothing in the package imports it; helpers only the tests use stay in ``tests/``.
"""
