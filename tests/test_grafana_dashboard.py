"""docs/grafana-dashboard.json against what GET /metrics serves: every metric a query names is
exported by the app, and every metric the app defines is on a panel; every channel (MAX among
them) has its bar, named and coloured as the console shows it. No servers: the exported names
come from prometheus_client's registry, which /metrics renders."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
)
from prometheus_client.metrics import MetricWrapperBase

# The app and the runtime import every module that counts something, so REGISTRY holds it all.
import notifier.api.app
import notifier.metrics
import notifier.runtime
from notifier.console.i18n import TEXTS
from notifier.roster.preferences import CHANNELS

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
CONSOLE_CSS = ROOT / "notifier" / "console" / "static" / "console.css"
BY_CHANNEL = "Sent by channel in the last hour"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

# The sample names a family of each type is exposed as (name + suffix). prometheus_client strips
# `_total` from a counter's family name (notifier_events_in) and the sample puts it back
# (notifier_events_in_total); test_suffixes_match_prometheus_client keeps this table honest.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
}
RATED = {"rate", "irate", "increase"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
KEYWORDS |= {"group_left", "group_right", "inf", "nan"}


def metric_selectors(expr: str) -> list[tuple[str, str | None]]:
    """(metric name, the function whose argument it is, if any) for each vector selector."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+(?::\w+)?\}?", " ", s)  # Grafana variables
    found = []
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", s):
        name = m.group()
        if name.lower() in KEYWORDS or s[m.end() :].lstrip().startswith("("):
            continue  # a keyword or a function call
        outer = re.search(r"([A-Za-z_]\w*)\s*\(\s*$", s[: m.start()])
        found.append((name, outer.group(1) if outer else None))
    return found


def family_sample_names(family: Any) -> set[str]:
    return {family.name + suffix for suffix in SUFFIXES[family.type]} | {
        sample.name for sample in family.samples
    }


def exported() -> dict[str, Any]:
    """Sample name -> its family, for everything GET /metrics can serve (a labelled metric has
    no samples until a child exists, so the names are derived from each family's type)."""
    return {name: family for family in REGISTRY.collect() for name in family_sample_names(family)}


def defined_families() -> set[str]:
    """Metrics defined in notifier/metrics.py, and any other notifier_* metric registered."""
    module = {
        family.name
        for value in vars(notifier.metrics).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
    }
    registered = {f.name for f in REGISTRY.collect() if f.name.startswith("notifier_")}
    return module | registered


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return dashboard


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))  # rows, collapsed or not


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def variable_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"\s*(?:label_values\((.+),\s*\w+\s*\)|query_result\((.+)\))\s*", query)
        assert m, f"variable {var['name']}: a query this test cannot read: {query}"
        yield f"variable {var['name']}", m.group(1) or m.group(2)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("max(a_gauge)", [("a_gauge", "max")]),
        (
            'sum by (via, outcome) (rate(a_total{job=~"$job", x="by (y)"}[$__rate_interval]))',
            [("a_total", "rate")],
        ),
        (
            "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > bool 1e3",
            [("h_bucket", "rate")],
        ),
        (
            "sum(rate(h_sum[1m] offset 5m)) / on (job) group_left sum(h_count)",
            [
                ("h_sum", "rate"),
                ("h_count", "sum"),
            ],
        ),
        ("up", [("up", None)]),
    ],
)
def test_metric_selectors(expr: str, expected: list[tuple[str, str | None]]) -> None:
    assert metric_selectors(expr) == expected


def test_suffixes_match_prometheus_client() -> None:
    """SUFFIXES is what prometheus_client really exposes (`_created` aside: it can be disabled)."""
    registry = CollectorRegistry()
    Counter("c_total", "", ["l"], registry=registry).labels("x").inc()
    Gauge("g", "", registry=registry).set(1)
    Histogram("h", "", registry=registry).observe(1)
    Summary("s", "", registry=registry).observe(1)
    Info("i", "", registry=registry).info({"v": "1"})
    Enum("e", "", states=["a", "b"], registry=registry).state("a")
    for family in registry.collect():
        derived = {n for n in family_sample_names(family) if not n.endswith("_created")}
        served = {s.name for s in family.samples if not s.name.endswith("_created")}
        assert derived == served, family.type


def test_dashboard_shape() -> None:
    dashboard = load()
    assert dashboard["schemaVersion"] == 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert metric_selectors(target["expr"]), (panel["title"], target["expr"])


def test_every_queried_metric_is_exported() -> None:
    """A renamed or misspelt metric in a query (or a query on a metric since removed) fails."""
    dashboard = load()
    served = exported()
    unknown = [
        (where, name)
        for where, expr in [*panel_queries(dashboard), *variable_queries(dashboard)]
        for name, _ in metric_selectors(expr)
        if name not in served
    ]
    assert not unknown, f"not served at /metrics: {unknown}"


def test_every_metric_has_a_panel() -> None:
    """A new metric without a panel fails."""
    served = exported()
    plotted = {
        served[name].name
        for _, expr in panel_queries(load())
        for name, _ in metric_selectors(expr)
        if name in served
    }
    missing = sorted(defined_families() - plotted)
    assert not missing, f"metrics with no panel in {DASHBOARD.name}: {missing}"


def test_counters_are_rated_and_gauges_are_not() -> None:
    """Counter and histogram samples only under rate()/irate()/increase(); gauges never."""
    served = exported()
    wrong = []
    for title, expr in panel_queries(load()):
        for name, function in metric_selectors(expr):
            family = served.get(name)
            if family is None:
                continue  # test_every_queried_metric_is_exported says so
            cumulative = family.type in ("counter", "histogram", "summary")
            if cumulative != (function in RATED):
                wrong.append((title, name, function))
    assert not wrong, wrong


def test_every_channel_has_its_bar_named_and_coloured_as_the_console_shows_it() -> None:
    """One bar per channel of the default order (a new channel without one fails), at 0 when
    it sent nothing, under the console's English name and in the colour of its charts."""
    [panel] = [p for p in panels(load()["panels"]) if p["title"] == BY_CHANNEL]
    targets = panel["targets"]
    assert [t["legendFormat"] for t in targets] == [TEXTS[f"reach.{c}"][1] for c in CHANNELS]
    assert [t["legendFormat"] for t in targets] == ["Telegram", "MAX", "Email", "SMS"]
    for target, channel in zip(targets, CHANNELS, strict=True):
        expr = target["expr"]
        assert f'channel="{channel}"' in expr and 'outcome="sent"' in expr, expr
        assert expr.endswith(" or vector(0)"), expr  # a channel that sent nothing shows 0
    colours = {
        o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"]
        for o in panel["fieldConfig"]["overrides"]
    }
    css = CONSOLE_CSS.read_text(encoding="utf-8")
    for channel in CHANNELS:
        fill = re.search(rf"\.ch-{channel} {{ fill: (#[0-9a-f]{{6}}); }}", css)
        assert fill, f"console.css gives .ch-{channel} no colour"
        assert colours[TEXTS[f"reach.{channel}"][1]] == fill.group(1), channel
    [by_outcome] = [
        p for p in panels(load()["panels"]) if p["title"] == "Messages by channel and outcome"
    ]
    assert "telegram, max, email, sms" in by_outcome["description"]
