"""Source digests of the offline world's packages: what a cache of their outputs must change with."""

from __future__ import annotations

import hashlib
from importlib.util import find_spec
from pathlib import Path


def source_digest(*packages: str) -> str:
    """A short hash of the Python source files of ``packages`` (by file name and content, in a stable order)."""
    digest = hashlib.sha256()
    for package in packages:
        spec = find_spec(package)
        if spec is None or spec.origin is None:
            digest.update(f"{package}:none".encode())
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
        for path in files:
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]
