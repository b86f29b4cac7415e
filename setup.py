"""The package list, the one thing pyproject.toml cannot say: the code found by name, plus
templates/ (kept at the top level, where translators and editors find it) installed as the data
package `notifier_templates`, which notifier/rendering.py reads through importlib.resources.
`[tool.setuptools.packages.find]` can only find packages under their own directory names."""

from setuptools import find_namespace_packages, setup

TEMPLATES = "notifier_templates"

setup(
    packages=[
        *find_namespace_packages(include=["notifier*", "bots*"]),
        TEMPLATES,
        # Its folders (a message kind each) as well, or setuptools warns they would be left out.
        *(f"{TEMPLATES}.{folder}" for folder in find_namespace_packages(where="templates")),
    ],
    package_dir={TEMPLATES: "templates"},
)
