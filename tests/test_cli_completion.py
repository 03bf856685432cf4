"""Issue 15 item 4: shell completion, generated from the parser and exercised in real bash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bank_node.cli.completion_cmd import bash_script, command_table
from bank_node.cli.main import COMMANDS, build_parser, main


def _complete(script: Path, *words: str) -> list[str]:
    """What bash offers after ``words`` (the last one is the word being completed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    prog = (
        f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ));"
        ' _fedcredit; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True)
    return [w for w in out.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_follows_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "fedcredit.bash"
    script.write_text(capsys.readouterr().out)
    assert set(COMMANDS) <= set(_complete(script, "fedcredit", ""))
    assert _complete(script, "fedcredit", "mod") == ["model"]
    assert _complete(script, "fedcredit", "model", "pro") == ["promote"]
    assert "--alias" in _complete(script, "fedcredit", "model", "promote", "--")
    # options after an option's value still belong to the same command
    assert _complete(script, "fedcredit", "train", "--config", "job.toml", "--no-p") == [
        "--no-progress"
    ]


def test_zsh_script_and_table_cover_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    table = command_table(build_parser(None))
    assert {p.split()[0] for p in table if p} == set(COMMANDS)
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef fedcredit") and "bashcompinit" in out
    assert bash_script(table) in out
