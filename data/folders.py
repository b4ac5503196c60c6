"""A folder of record files as one dataset, as the Data-efficient-training seed's ``--train_dir`` and
``--valid_dir`` are (its ``*.json`` files, JSON Lines of ``{"messages": [{role, content}, ...]}``).

Every record file directly in the folder (``.jsonl``, ``.json``, ``.parquet``, ``.pq``) is read, in name order, in
any format :mod:`evoforge.data.formats` reads; each record's ``source_file`` is its file's stem, so
``train.chunk_by: file`` makes a chunk of each file. Other files and subfolders (the seed's ``cache_*`` folders)
are skipped. A folder that is a saved Hugging Face dataset or holds a LLaMA-Factory ``dataset_info.json`` is that
dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoforge.data.formats import load_records
from evoforge.errors import DataError

RECORD_SUFFIXES = (".jsonl", ".json", ".parquet", ".pq")
_DATASET_MARKERS = ("state.json", "dataset_dict.json", "dataset_info.json")


def record_files(folder: Path) -> list[Path]:
    """The record files directly in ``folder``, by name; DataError when there are none or two share a stem."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in RECORD_SUFFIXES)
    if not files:
        kinds = ", ".join(f"*{suffix}" for suffix in RECORD_SUFFIXES)
        raise DataError(f"{folder}: no record files ({kinds}) in this folder")
    stems: dict[str, Path] = {}
    for path in files:
        if (other := stems.setdefault(path.stem, path)) != path:
            raise DataError(f"{folder}: {other.name} and {path.name} would be the same chunk '{path.stem}'; rename one")
    return files


def load_dataset_path(path: str | Path, fmt: str | None = None) -> list[dict[str, Any]]:
    """The normalised records of a data file, a saved dataset, or a folder of record files (each record tagged with
    its file's stem); DataError names the path (and the file and line of a bad record)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data not found: {path}")
    if not path.is_dir() or any((path / marker).is_file() for marker in _DATASET_MARKERS):
        return load_records(path, fmt)
    return [record for file in record_files(path) for record in load_records(file, fmt)]
