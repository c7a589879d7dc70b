"""The README's quick start stays true: two one-line commands, and CI runs the test one."""

from __future__ import annotations

import re

from tests.conftest import PROJECT_DIR


def quick_start_commands() -> list[str]:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_has_two_one_line_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert commands[0].endswith("mkdocs serve") and "-c constraints.txt" in commands[0]
    assert "pytest" in commands[1] and "-c constraints.txt" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    assert quick_start_commands()[1] in ci.splitlines()


def test_constraints_pin_every_package_and_torch_for_this_machine():
    lines = [line for line in (PROJECT_DIR / "constraints.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    assert all("==" in line for line in lines)
    assert "torch==2.13.0" in lines
    assert any(line.startswith("mkdocs==1.") for line in lines)
