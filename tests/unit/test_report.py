"""report.md sections are replaced in place, tables and charts render."""

from __future__ import annotations

from pathlib import Path

from evoforge.report import bar_chart, line_chart, markdown_table, read_section, write_section


def test_sections_insert_and_replace(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    write_section(report, "evolve", "## Evolve\nold")
    write_section(report, "merge", "## Merge\nm")
    write_section(report, "evolve", "## Evolve\nnew")
    text = report.read_text()
    assert text.count("## Evolve") == 1 and "old" not in text
    assert text.index("## Evolve") < text.index("## Merge")
    assert read_section(report, "evolve") == "## Evolve\nnew"
    assert read_section(report, "absent") is None


def test_table_and_charts(tmp_path: Path) -> None:
    table = markdown_table(["model", "score"], [["raw", 0.25], ["auto_merge", 0.5]])
    assert table.splitlines()[2] == "| raw | 0.250 |"
    png = line_chart(tmp_path / "l.png", {"λ": [0.5, 0.3]}, "t", "step", "λ")
    bars = bar_chart(tmp_path / "b.png", {"round 1": {"raw": 0.1, "auto": 0.3}}, "t", "score")
    assert png.read_bytes()[:4] == b"\x89PNG" and bars.stat().st_size > 1000
