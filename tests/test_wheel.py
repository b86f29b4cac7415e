"""The wheel works where it is installed (issue 14: a wheel without templates/ failed every
message): built from this checkout, installed with its dependencies into a fresh virtual
environment outside it, `notifier demo` run there, away from the checkout, renders and writes
its messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.processes import ROOT

# Building, then installing every dependency (from pip's cache or the package index): minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Not what the wheel is made of, and large or changing while the suite runs.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with only the wheel and its dependencies; returns its bin/."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp / "dist", source], cwd=tmp)
    [wheel] = (tmp / "dist").glob("notifier-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "notifier_templates/mark_created/telegram.html.j2" in names
    assert not any(n.startswith(("templates/", "tests/")) for n in names)
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel],
        cwd=tmp,
    )
    return env_dir / "bin"


def _outside_env(bin_dir: Path) -> dict[str, str]:
    # No setting, no path and no virtual environment of this run may leak into the installed one.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NOTIFIER_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_wheel_brings_its_templates(installed: Path, tmp_path: Path) -> None:
    where = _run(
        [
            installed / "python",
            "-c",
            "import notifier, notifier_templates; print(notifier.__file__); "
            "print(notifier_templates.__file__)",
        ],
        cwd=tmp_path,
        env=_outside_env(installed),
    )
    for path in where.split():
        assert Path(path).is_relative_to(installed.parent), where  # the venv's, not the checkout's


def test_notifier_demo_renders_messages_where_installed(installed: Path, tmp_path: Path) -> None:
    out = _run([installed / "notifier", "demo"], cwd=tmp_path, env=_outside_env(installed))
    [summary] = [line for line in out.splitlines() if line.startswith("Summary: ")]
    assert "sent by email" in summary and "sent by sms" in summary, out
    assert "failed" not in summary and "cannot render" not in out, out
    emails = sorted((tmp_path / "var" / "outbox" / "email").glob("*.eml"))
    assert emails, out
    marks = []
    for eml in emails:
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert "<html" in html.get_content().lower()
        marks.append(text.get_content())
    assert any("Алгебра" in body for body in marks), marks
    sms = list((tmp_path / "var" / "outbox" / "sms").iterdir())
    assert sms and all(p.read_text(encoding="utf-8").strip() for p in sms)
