"""Reading data files that are not what they should be: other encodings, binary data, a byte-order mark, huge
lines, corrupt parquet files. Each is a DataError naming the file (and line), never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evoforge.data.io import read_located, read_records
from evoforge.errors import DataError

BOM = b"\xef\xbb\xbf"
ROWS = [{"instruction": "Add 2 and 3", "output": "5"}, {"instruction": "Café au lait?", "output": "oui"}]


def _latin1_jsonl(path: Path) -> Path:
    lines = ['{"instruction": "a", "output": "1"}', '{"instruction": "b", "output": "2"}', '{"instruction": "café"}']
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    return path


def test_latin1_jsonl_names_file_line_and_byte(tmp_path: Path) -> None:
    path = _latin1_jsonl(tmp_path / "latin1.jsonl")
    with pytest.raises(DataError) as error:
        read_records(path)
    message = str(error.value)
    assert message == f"{path}: line 3 is not UTF-8 text (byte 0xe9 at column 21); save the file as UTF-8"


def test_latin1_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('[\n{"instruction": "a"},\n{"instruction": "café"}\n]\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.json: line 3 is not UTF-8 text \(byte 0xe9 at column 21\)"):
        read_records(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_binary_garbage_is_named_binary(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(b"\x00\x01\x02\x03" + bytes(range(256)) * 8)
    with pytest.raises(DataError, match=rf"garbage\{suffix}: line 1 holds the control byte 0x00 .*binary file"):
        read_records(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_random_bytes_give_a_data_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(DataError, match=rf"random\{suffix}") as error:
        read_records(path)
    assert len(str(error.value)) < 500


def test_text_that_is_not_json_says_what_it_starts_with(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    path.write_text("id,instruction\n1,hello\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"table\.json: not JSON: .*starts with 'id,instruction"):
        read_records(path)


@pytest.mark.parametrize(
    ("magic", "what"), [("\ufeff".encode("utf-16-le"), "UTF-16 text"), (b"\x1f\x8b\x08\x00", "gzip-compressed")]
)
def test_foreign_files_are_recognised(tmp_path: Path, magic: bytes, what: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(magic + '{"instruction": "x"}\n'.encode("utf-16-le"))
    with pytest.raises(DataError, match=rf"d\.jsonl: this is {what}"):
        read_records(path)


def test_bom_jsonl_and_bom_json_read_fine(tmp_path: Path) -> None:
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(BOM + "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS).encode("utf-8") + b"\n")
    as_json = tmp_path / "bom.json"
    as_json.write_bytes(BOM + json.dumps(ROWS, ensure_ascii=False).encode("utf-8"))
    assert read_records(jsonl) == ROWS and read_records(as_json) == ROWS
    assert [where for where, _ in read_located(jsonl)] == [f"{jsonl}:1", f"{jsonl}:2"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("huge.jsonl", b'{"instruction": "ok"}\n{"instruction": "' + b"x" * 3_000_000 + b'"\n'),
        ("words.jsonl", b"y" * 3_000_000 + b"\n"),
        ("huge.json", b'[{"instruction": "' + b"x" * 3_000_000 + b'"}, }]'),
        ("late.jsonl", b'{"instruction": "' + b"x" * 3_000_000 + b'\xe9"}\n'),
    ],
)
def test_a_huge_line_keeps_the_message_short(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(name)) as error:
        read_records(path)
    assert len(str(error.value)) < 500, str(error.value)[:600]


def test_a_huge_valid_line_reads(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"instruction": "é" * 1_000_000}) + "\n", encoding="utf-8")
    assert len(read_records(path)[0]["instruction"]) == 1_000_000


def test_truncated_and_fake_parquet_are_data_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "good.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS * 50), good)
    assert read_records(good) == ROWS * 50
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    fake = tmp_path / "fake.parquet"
    fake.write_text('{"instruction": "x"}\n', encoding="utf-8")
    for path in (truncated, fake):
        with pytest.raises(DataError, match=rf"{path.name}: not a readable parquet file") as error:
            read_records(path)
        assert len(str(error.value)) < 500


def test_corrupt_saved_dataset_is_a_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "state.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"hf: not a readable saved Hugging Face dataset"):
        read_records(folder)


def test_evolve_on_a_latin1_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = _latin1_jsonl(tmp_path / "latin1.jsonl")
    proc = subprocess.run(
        [sys.executable, "-m", "evoforge.cli", "-q", "evolve", "--data", str(path), "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    assert "latin1.jsonl: line 3 is not UTF-8 text (byte 0xe9 at column 21); save the file as UTF-8" in output


def test_a_catalogue_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    from evoforge.data.formats import load_examples

    catalogue = tmp_path / "dataset_info.json"
    catalogue.write_bytes('{"caf\u00e9": {"file_name": "x.json"}}'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        load_examples(catalogue)
