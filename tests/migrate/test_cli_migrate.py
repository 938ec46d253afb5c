"""``llmswitch migrate`` on the command line: dry run by default, --write applies, drafts never overwrite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmswitch.cli.app import app

FIXTURE = Path(__file__).parent / "fixture"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path / "project"


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.py"))}


def test_a_dry_run_prints_the_diff_and_summary_and_writes_nothing(project: Path) -> None:
    before = snapshot(project)
    result = CliRunner().invoke(app, ["migrate", ".", "--providers-file", "providers.yaml"])
    assert result.exit_code == 0, result.output
    assert "--- a/app/chat.py\n+++ b/app/chat.py\n" in result.stdout
    assert ("-from openai import APIError, OpenAI  # the sync client\n"
            "+from openai import APIError  # the sync client\n"
            "+from llmswitch import OpenAI\n") in result.stdout
    assert "--- providers.yaml (draft, not written)" in result.stdout
    assert "8 file(s) scanned, 4 to change, 10 site(s) changed, 1 site(s) left as they are" in result.stderr
    assert "left     app/entra.py:7: AsyncAzureOpenAI(...) left as it is" in result.stderr
    assert "dry run: nothing written" in result.stderr
    assert snapshot(project) == before and not (project / "providers.yaml").exists()


def test_write_applies_it_and_never_overwrites_a_providers_file(project: Path) -> None:
    result = CliRunner().invoke(app, ["migrate", "--write", "--providers-file", "providers.yaml"])
    assert result.exit_code == 0, result.output
    assert "wrote providers.yaml" in result.stderr and "rewrote 4 file(s)" in result.stderr
    assert "from llmswitch import OpenAI as Client" in (project / "app" / "embeddings.py").read_text()
    drafted = (project / "providers.yaml").read_text()
    again = CliRunner().invoke(app, ["migrate", "--write", "--providers-file", "providers.yaml"])
    assert again.exit_code == 1
    assert "providers.yaml exists: not overwriting it" in again.stderr
    assert (project / "providers.yaml").read_text() == drafted


def test_a_missing_path_and_an_unparsable_file_are_named(project: Path) -> None:
    missing = CliRunner().invoke(app, ["migrate", "nowhere"])
    assert missing.exit_code == 1 and "nowhere: no such file or directory" in missing.stderr
    (project / "app" / "broken.py").write_text("from openai import (OpenAI\n")
    result = CliRunner().invoke(app, ["migrate", "app"])
    assert result.exit_code == 0
    assert "left     app/broken.py:" in result.stderr and "not parsed" in result.stderr
