"""The templates come from the installed package (importlib.resources) and are all compiled when
a process starts: a missing or broken one stops the start with one line naming it, instead of
failing its messages one by one."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import notifier.template_set
from notifier.rendering import Renderer, installed_templates, load_templates
from notifier.template_set import TemplatesError, templates_root
from tests.processes import BIN, ROOT, env_with


def _copy(to: Path) -> Path:
    shutil.copytree(str(templates_root()), to, ignore=shutil.ignore_patterns("__pycache__"))
    return to


def test_every_template_of_the_checkout_is_installed_and_compiles() -> None:
    html, _ = installed_templates()
    assert html.loader is not None
    shipped = sorted(
        p.relative_to(ROOT / "templates").as_posix() for p in ROOT.glob("templates/**/*.j2")
    )
    assert html.loader.list_templates() == shipped
    assert Renderer()._html is Renderer()._html  # compiled once per process, not per Renderer


def _remove(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).unlink()


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param(
            _remove("mark_created/telegram.html.j2"),
            "mark_created/telegram.html.j2 is missing (every message needs one)",
            id="a kind's template",
        ),
        pytest.param(
            _remove("_digest/subject.txt.j2"),
            "_digest/subject.txt.j2 is missing (every message needs one)",
            id="the digest's",
        ),
        pytest.param(
            _remove("_layout/email.html.j2"),
            "_digest/email.html.j2 refers to _layout/email.html.j2, which is missing",
            id="a parent",
        ),
        pytest.param(
            _write("mark_created/sms.txt.j2", "Оценка {{ data.value }\n"),
            "mark_created/sms.txt.j2, line 1: unexpected '}'",
            id="syntax",
        ),
        pytest.param(
            _write("attendance/line.txt.j2", "{{ data.status | no_such_filter }}"),
            "attendance/line.txt.j2, line 1: No filter named 'no_such_filter'.",
            id="unknown filter",
        ),
    ],
)
def test_a_fault_is_named_in_one_line(
    tmp_path: Path, fault: Callable[[Path], None], message: str
) -> None:
    root = _copy(tmp_path / "templates")
    load_templates(root)  # the copy as it is: fine
    fault(root)
    with pytest.raises(TemplatesError) as err:
        Renderer(root)
    assert str(err.value) == message


def test_no_templates_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TemplatesError, match=r"no templates in .*: reinstall notifier"):
        load_templates(tmp_path)
    # What a wheel without them looked like (issue 14): the package is not there.
    monkeypatch.setattr(notifier.template_set, "PACKAGE", "notifier_templates_not_installed")
    with pytest.raises(TemplatesError, match=r"^package notifier_templates_not_installed not"):
        templates_root()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "settings"),
    [
        (["up"], {}),
        (["serve"], {"redis_url": "redis://127.0.0.1:9/0"}),
        (["bot"], {"telegram_token": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"}),
        (["demo"], {}),
    ],
)
def test_a_broken_template_stops_the_start_with_one_line(
    tmp_path: Path, command: list[str], settings: dict[str, str]
) -> None:
    # Installed templates, but a broken one: a package of that name earlier on the path.
    shadow = _copy(tmp_path / "site" / "notifier_templates")
    (shadow / "mark_created" / "sms.txt.j2").write_text("{% if %}")
    env = env_with(database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}", **settings)
    env["PYTHONPATH"] = str(tmp_path / "site")
    result = subprocess.run(
        [str(BIN / "notifier"), *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "template error: mark_created/sms.txt.j2, line 1: Expected an expression, got 'end of "
        "statement block'"
    ]
    assert not (tmp_path / "n.db").exists()  # it stopped before anything started
