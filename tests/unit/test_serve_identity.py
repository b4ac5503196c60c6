"""The identity ``evoforge chat`` and ``serve lmoe`` use: ``--identity FILE``, else ``./model_identity.txt`` (as the
data-efficient-training seed reads it), none with ``--no-identity``."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.serve.identity import pick_identity


def test_model_identity_txt_in_the_working_directory_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert pick_identity(None) == ("", "none (no ./model_identity.txt)")
    Path("model_identity.txt").write_text("请一直牢记:\\n\\n1.你是 Evo。\nignored\n", encoding="utf-8")
    text, where = pick_identity(None)
    assert text == "请一直牢记:\n\n1.你是 Evo。" and where.startswith("model_identity.txt ('请一直牢记:…')")
    own = tmp_path / "other.txt"
    own.write_text("You are Ada.\n")
    assert pick_identity(own) == ("You are Ada.", f"{own} ('You are Ada.')")
    assert pick_identity(None, enabled=False) == ("", "none (--no-identity)")
    with pytest.raises(ConfigError, match="not both"):
        pick_identity(own, enabled=False)
    with pytest.raises(ConfigError, match="cannot read the identity file"):
        pick_identity(tmp_path / "missing.txt")
