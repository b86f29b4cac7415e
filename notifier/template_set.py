"""The message templates as installed: found through importlib.resources (templates/ is the data
package `notifier_templates`, see setup.py), read by Jinja, and checked once when a process
starts, so a missing or broken template stops the start instead of failing messages one by one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable

from jinja2 import BaseLoader, Environment, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.loaders import split_template_path
from jinja2.meta import find_referenced_templates

PACKAGE = "notifier_templates"
SUFFIX = ".j2"
# What every message needs whatever channel it goes by (notifier/rendering.py names them): a
# kind's folder, and the list and digest forms. SMS and list lines are not for every kind (the
# weekly summary has an SMS form but no list line).
MESSAGE_FILES = ("subject.txt.j2", "email.txt.j2", "email.html.j2", "telegram.html.j2")
SHARED_FORMS = ("_list", "_digest")


class TemplatesError(Exception):
    """A template is missing or does not compile; the message is one line saying which."""


def templates_root() -> Traversable:
    """The installed templates/ (in a checkout, the editable install maps it)."""
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise TemplatesError(
            f"package {PACKAGE} not found: reinstall notifier (`pip install .` or "
            "`python3 bootstrap.py` in a checkout; the wheel ships templates/ as that package)"
        ) from None


class ResourceLoader(BaseLoader):
    """Jinja's loader over a Traversable: a directory, an installed package, a zip alike."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        node = self.root
        for part in split_template_path(template):  # refuses "..": nothing outside the root
            node = node / part
        if not node.is_file():
            raise TemplateNotFound(template)
        # Never reloaded: templates change with a release, and the process restarts then.
        return node.read_text(encoding="utf-8"), str(node), lambda: True

    def list_templates(self) -> list[str]:
        return sorted(_walk(self.root, ""))


def _walk(node: Traversable, prefix: str) -> Iterator[str]:
    for child in node.iterdir():
        if child.is_dir():
            yield from _walk(child, f"{prefix}{child.name}/")
        elif child.name.endswith(SUFFIX):
            yield f"{prefix}{child.name}"


def check(loader: ResourceLoader, *, html: Environment, text: Environment) -> int:
    """Compile every template in the environment that renders it (HTML ones autoescaped) and
    make sure each message form is complete and every template it extends exists. Raises
    TemplatesError naming the first fault; returns how many templates there are."""
    names = loader.list_templates()
    if not names:
        raise TemplatesError(f"no templates in {loader.root}: reinstall notifier")
    present = set(names)
    folders = {name.split("/")[0] for name in names if "/" in name}
    for folder in sorted(f for f in folders if not f.startswith("_") or f in SHARED_FORMS):
        for file in MESSAGE_FILES:
            if f"{folder}/{file}" not in present:
                raise TemplatesError(f"{folder}/{file} is missing (every message needs one)")
    for name in names:
        env = html if name.endswith(".html.j2") else text
        try:
            source, filename, _ = loader.get_source(env, name)
            tree = env.parse(source, name, filename)
            missing = sorted(
                ref for ref in find_referenced_templates(tree) if ref and ref not in present
            )
            if missing:
                raise TemplatesError(f"{name} refers to {missing[0]}, which is missing")
            env.get_template(name)  # compiled now and kept in the environment's cache
        except TemplateSyntaxError as exc:
            raise TemplatesError(f"{name}, line {exc.lineno}: {exc.message}") from None
        except TemplateError as exc:  # e.g. a filter or test that does not exist
            raise TemplatesError(f"{name}: {exc.message}") from None
    return len(names)
