"""The shape of study.yaml, checked before anything reads it: one schema, every error naming the
key, the shape it expects and what it found.

Reading (``read_study_yaml``):

- the file must be UTF-8 (a latin-1 file is refused naming the line of the first byte that is
  not; a UTF-8 byte-order mark is fine);
- safe YAML only (no ``!!python`` tags);
- a key written twice in one mapping is an error naming both lines (YAML would silently keep the
  last);
- anchors and aliases (``&a`` / ``*a``) are allowed, but a document whose aliases expand to more
  than ``MAX_EXPANDED_VALUES`` values (a "billion laughs" bomb: a few lines that expand to
  gigabytes) or refer to themselves is refused before anything is built from it.

Shapes (``shape_problems``): every key of study.yaml has a shape in ``SCHEMA`` (a text, a
number, a date, a list of names, a mapping of a given form …). A value of another shape is
reported as ``'interventions.new_checkout.treated': expected {column: <customer column>, values:
[<treated values>]} (got a list [North]); write treated: {column: <column>, values: [North]}``;
an unknown key is reported with the keys the place takes (and the nearest one, for a typo).

References (``reference_problems``), which need no data: KPI ids of objectives, interventions and
``min_effect`` are ids of the KPI library (``cxlab kpis``); ``parameters.impact.correction`` is a
correction the impact stage knows; ``bins`` are increasing numbers. ``cxlab.study`` checks the
rest (goal touchpoints in the catalog, stages of touchpoints, intervention ids of objectives,
dates, table files).

This module sits beside ``cxlab.study`` (the contract layer), below the KPI library and the
statistics, so it names their ids itself (``KPI_IDS``, ``CORRECTIONS``); tests/test_study_schema.py
checks that they are exactly ``cxlab.kpis.KPIS`` and ``cxlab.stats.METHODS``.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from .errors import StudyError

__all__ = [
    "read_study_yaml",
    "shape_problems",
    "reference_problems",
    "SCHEMA",
    "KPI_IDS",
    "CORRECTIONS",
    "MAX_EXPANDED_VALUES",
]

# the ids of cxlab.kpis.KPIS and cxlab.stats.METHODS (a test keeps them equal)
KPI_IDS = ("conversion_rate", "repeat_purchase_rate", "retention_rate", "churn_rate", "revenue_per_customer",
           "average_order_value", "nps", "csat_top2", "csat_mean", "ces_mean")
CORRECTIONS = ("holm", "bh", "fdr_bh", "bonferroni", "none")
DESIGNS = ("ab", "pre_post", "did", "its")
BACKENDS = ("duckdb", "pyspark")
ATTRIBUTE_KINDS = ("numeric", "category", "date")
# values a study.yaml may expand to through aliases; a study of 2,000 touchpoints is ~10,000
MAX_EXPANDED_VALUES = 100_000

Problem = tuple[str, str]  # (key, message)


# --------------------------------------------------------------------------- reading
class _Loader(yaml.SafeLoader):
    """Safe YAML that composes the node graph first, so aliases and duplicate keys can be
    checked before any value is built."""


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _graph_problems(root: yaml.Node) -> list[Problem]:
    """Duplicate keys, self-reference and the expanded size of a composed document."""
    problems: list[Problem] = []
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node, key: str) -> int:
        ident = id(node)
        if ident in sizes:
            return sizes[ident]
        if ident in open_nodes:
            raise StudyError(f"'{key}' (line {_line(node)}) refers to itself through an alias; "
                             "write the value out")
        open_nodes.add(ident)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    total += size(value_node, key)
                    continue
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else f"<{key_node.tag}>"
                child = f"{key}.{name}" if key else str(name)
                if isinstance(key_node, yaml.ScalarNode):
                    ident_key = (key_node.tag, key_node.value)
                    if ident_key in seen:
                        problems.append((child, f"is written twice (lines {seen[ident_key]} and {_line(key_node)}); "
                                                "YAML would keep only the second: keep one"))
                    else:
                        seen[ident_key] = _line(key_node)
                total += size(key_node, child) + size(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                total += size(item, f"{key}[{i}]")
        open_nodes.discard(ident)
        sizes[ident] = total
        if total > MAX_EXPANDED_VALUES:
            raise StudyError(
                f"'{key or 'study.yaml'}' (line {_line(node)}) expands through aliases (*name) to more than "
                f"{MAX_EXPANDED_VALUES:,} values; cxlab refuses such a file (an alias bomb). "
                "Write the values out, or use fewer aliases."
            )
        return total

    size(root, "")
    return problems


def read_study_yaml(file: str | Path) -> Any:
    """The content of a study.yaml, read safely (see the module doc); a StudyError naming the
    file and, where there is one, the key and line of what is wrong."""
    file = Path(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise StudyError(f"{file} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StudyError(
            f"{file} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line}, column {column} is not "
            "UTF-8 (the file was probably saved as latin-1 or Windows-1252). Save study.yaml as UTF-8."
        ) from None
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            problems = _graph_problems(root)
            if problems:
                raise StudyError(
                    f"{len(problems)} problem(s) in {file}:\n  - "
                    + "\n  - ".join(f"{file}: '{key}': {message}" for key, message in problems)
                )
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise StudyError(f"{file} is not valid YAML: {exc}") from None
    except RecursionError:
        raise StudyError(f"{file} is nested too deeply to be a study.yaml") from None


# --------------------------------------------------------------------------- shapes
def _describe(value: Any) -> str:
    """What a value is, in words: "the text 'duckdb'", "a list [North]" …"""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "…"
        return f"the text '{shown}'"
    try:
        flow = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        flow = repr(value)
    flow = flow if len(flow) <= 60 else flow[:57] + "…"
    return f"a list {flow}" if isinstance(value, list) else f"a mapping {flow}" if isinstance(value, dict) else flow


class Shape:
    """A shape a value of study.yaml may take: ``expected`` says it in words; ``problems``
    yields (key, message) for a value that does not fit; ``hint`` may suggest a fix."""

    expected = "a value"

    def __init__(self, expected: str | None = None, hint: Callable[[Any, str], str | None] | None = None):
        if expected:
            self.expected = expected
        self.hint = hint

    def fits(self, value: Any) -> bool:
        return True

    def wrong(self, value: Any, key: str) -> Problem:
        message = f"expected {self.expected} (got {_describe(value)})"
        suggestion = self.hint(value, key) if self.hint else None
        return key, message + (f"; {suggestion}" if suggestion else "")

    def problems(self, value: Any, key: str) -> Iterable[Problem]:
        if not self.fits(value):
            yield self.wrong(value, key)


class Text(Shape):
    expected = "a text"

    def fits(self, value):
        return isinstance(value, (str, int, float, bool, dt.date))


class Currency(Shape):
    expected = "a currency: an ISO code such as EUR, USD or GBP, or a sign such as €"

    def fits(self, value):
        return (isinstance(value, str) and 1 <= len(value.strip()) <= 5
                and not any(c.isdigit() or c.isspace() for c in value.strip()))


class Name(Shape):
    expected = "a name"

    def fits(self, value):
        return isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip() != ""


class Number(Shape):
    expected = "a number"

    def fits(self, value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Date(Shape):
    expected = "a date (YYYY-MM-DD)"

    def fits(self, value):
        return isinstance(value, (dt.date, str))


class OneOf(Shape):
    def __init__(self, values: Iterable[str], expected: str | None = None, hint=None):
        self.values = tuple(values)
        super().__init__(expected or " or ".join(self.values), hint)

    def fits(self, value):
        return isinstance(value, str) and value in self.values


class Anything(Shape):
    pass


class ListOf(Shape):
    """A list of items of one shape; ``single``: one bare item (of that Python type, say str)
    stands for a list of one."""

    def __init__(self, item: Shape, expected: str, single: type | tuple | None = None, hint=None):
        super().__init__(expected, hint)
        self.item, self.single = item, single

    def problems(self, value, key):
        if self.single and isinstance(value, self.single) and self.item.fits(value):
            return
        if not isinstance(value, list):
            yield self.wrong(value, key)
            return
        for i, item in enumerate(value):
            name = f"{key}[{i}]"
            if isinstance(item, dict) and Name().fits(item.get("id")):
                name = f"{key}.{item['id']}"
            if item is None:
                yield name, f"is empty; expected {self.item.expected}"
            else:
                yield from self.item.problems(item, name)


class MapOf(Shape):
    """A mapping of names to values of one shape; ``empty_values``: a key may have no value."""

    def __init__(self, value: Shape, expected: str, empty_values: bool = False, hint=None):
        super().__init__(expected, hint)
        self.value, self.empty_values = value, empty_values

    def problems(self, value, key):
        if not isinstance(value, dict):
            yield self.wrong(value, key)
            return
        for name, item in value.items():
            child = f"{key}.{name}"
            if not Name().fits(name):
                yield child, f"expected a name as the key (got {_describe(name)})"
            elif item is None:
                if not self.empty_values:
                    yield child, f"is empty; expected {self.value.expected}"
            else:
                yield from self.value.problems(item, child)


class Record(Shape):
    """A mapping with known keys, each of its own shape; ``required`` keys must be there, and
    other keys are errors unless ``open``."""

    def __init__(self, fields: dict[str, Shape], expected: str, required: Iterable[str] = (), open: bool = False,
                 hint=None, what: str = "this mapping"):
        super().__init__(expected, hint)
        self.fields, self.required, self.open, self.what = fields, tuple(required), open, what

    def problems(self, value, key):
        if not isinstance(value, dict):
            yield self.wrong(value, key)
            return
        for name in self.required:
            if value.get(name) is None:
                yield f"{key}.{name}" if key else name, f"is required ({self.fields[name].expected})"
        for name, item in value.items():
            child = f"{key}.{name}" if key else str(name)
            shape = self.fields.get(name) if isinstance(name, str) else None
            if shape is None:
                if not self.open:
                    near = difflib.get_close_matches(str(name), list(self.fields), n=1, cutoff=0.75)
                    yield child, (f"unknown key{f' (did you mean {near[0]}?)' if near else ''}; "
                                  f"{self.what} takes {', '.join(self.fields)}")
                continue
            if item is None:
                continue  # left empty: as if not written (required keys are reported above)
            yield from shape.problems(item, child)


class Either(Shape):
    """One of several shapes; a value that fits none gets one message with ``expected``."""

    def __init__(self, *shapes: Shape, expected: str, hint=None):
        super().__init__(expected, hint)
        self.shapes = shapes

    def problems(self, value, key):
        for shape in self.shapes:
            if isinstance(shape, Record) and isinstance(value, dict):
                yield from shape.problems(value, key)  # the mapping form: say what in it is wrong
                return
            if not list(shape.problems(value, key)):
                return
        yield self.wrong(value, key)


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _leaf(key: str) -> str:
    return key.rsplit(".", 1)[-1]


# --------------------------------------------------------------------------- the schema
_DATE_WINDOW = Record({"start": Date(), "end": Date()}, "{start: YYYY-MM-DD, end: YYYY-MM-DD}",
                      what="a window", hint=lambda v, k: (
                          f"write {_leaf(k)}: {{start: {_flow(v)}, end: YYYY-MM-DD}}"
                          if isinstance(v, (dt.date, str)) else None))
_KPI_LIST = ListOf(Name(), "a list of KPI ids, e.g. [conversion_rate, csat_mean] (cxlab kpis lists them)",
                   single=str)
_BINS = ListOf(Number(), "a list of increasing numbers, e.g. [18, 25, 35, 50, 65]", hint=lambda v, k: (
    f"write bins: [{', '.join(p.strip() for p in v.split('-'))}]"
    if isinstance(v, str) and all(p.strip().replace(".", "", 1).isdigit() for p in v.split("-")) else None))

TABLE = Either(
    Name(),
    Record({"file": Name(), "columns": MapOf(Name(), "a mapping of contract columns to the export's columns, "
                                                     "e.g. {customer_id: user_id, timestamp: ts}"),
            "encoding": Name(), "epoch": Name(),
            # a table in a database (cxlab.study checks that a table gives a file or these three)
            "backend": Name("an Ibis backend, e.g. postgres"),
            "url": Text("a URL without a password, e.g. postgresql://analyst@db:5432/cx"),
            "table": Name("the table's name in the database"), "schema": Name(),
            "order_by": ListOf(Name(), "a column or a list of columns giving the rows their order, e.g. [event_id]",
                               single=str),
            "password_env": Name("the name of an environment variable holding the password")},
           "{file: ..., columns: {contract column: export column}, encoding: ..., epoch: ...} or "
           "{backend: postgres, url: ..., table: ..., columns: ...}",
           what="a table"),
    expected="a file name, {file: ..., columns: {contract column: export column}}, or a table in a database "
             "{backend: postgres, url: ..., table: ...}",
)
TOUCHPOINT = Record({"stage": Name(), "channel": Name(), "label": Text()},
                    "{stage: <one of the stages>, channel: web|app|email|store|call_centre …, label: <text>}",
                    what="a touchpoint")
ATTRIBUTE = Record(
    {"kind": OneOf(ATTRIBUTE_KINDS), "bins": _BINS},
    "{kind: numeric|category|date} (numeric and date attributes may add bins: [18, 25, 35])",
    what="a customer attribute",
    hint=lambda v, k: (f"write {_leaf(k)}: {{kind: {v}}}" if isinstance(v, str) else None),
)
OBJECTIVE = Record(
    {"id": Name(), "goal": Text(), "kpi": Name("a KPI id (cxlab kpis lists them)"), "baseline": _DATE_WINDOW,
     "target": Record({"absolute": Number(), "relative": Number(), "by": Date()},
                      "{absolute: <value>} or {relative: 0.10}, optionally with by: YYYY-MM-DD",
                      what="a target", hint=lambda v, k: (
                          f"write target: {{absolute: {v}}} or {{relative: {v}}}" if Number().fits(v) else None)),
     "direction": OneOf(("increase", "decrease")), "intervention": Name("an intervention id"),
     "description": Text()},
    "{id, goal, kpi, baseline: {start, end}, target: {absolute|relative}}",
    required=("id", "kpi"), what="an objective",
)
INTERVENTION = Record(
    {"id": Name(), "date": Date(), "design": OneOf(DESIGNS),
     "treated": Record(
         {"column": Name("a column of the customers table"),
          "values": ListOf(Text(), "a list of the treated group's values, e.g. [North]",
                                   single=(str, int, float))},
         "{column: <customer column>, values: [<treated values>]}", what="treated",
         hint=lambda v, k: (f"write treated: {{column: <column>, values: {_flow(v if isinstance(v, list) else [v])}}}"
                            if isinstance(v, (list, str, int)) else None)),
     "kpis": _KPI_LIST, "alpha": Number("a number between 0 and 1, e.g. 0.05"),
     "min_effect": MapOf(Number(), "a mapping of KPI ids to the smallest change that matters, "
                                   "e.g. {conversion_rate: 0.02}",
                         hint=lambda v, k: ("name the KPI each value is for" if isinstance(v, (list, int, float))
                                            and not isinstance(v, bool) else None)),
     "description": Text(), "goal": Text()},
    "{id, date, design, kpis: [...], treated: {column, values}, alpha, min_effect: {kpi: value}}",
    required=("id",), what="an intervention",
)
ENGINE = Record(
    {"backend": OneOf(BACKENDS), "threads": Number(), "memory_limit": Text(), "temp_directory": Text(),
     "master": Text(), "app_name": Text(), "shuffle_partitions": Number(),
     "conf": MapOf(Text(), "a mapping of Spark settings to values")},
    "{backend: duckdb} or {backend: pyspark, master: local[2]}", what="engine",
    hint=lambda v, k: (f"write engine: {{backend: {v}}}" if isinstance(v, str) else None),
)

SCHEMA = Record(
    {
        "name": Text(),
        "title": Text(),
        "description": Text(),
        "tables": MapOf(TABLE, "a mapping of tables (customers, events, surveys, tickets) to their files"),
        "study_period": _DATE_WINDOW,
        "stages": ListOf(Name(), "a list of stage names in journey order, e.g. [awareness, consideration, purchase]"),
        "touchpoints": MapOf(TOUCHPOINT, "a mapping of each touchpoint to {stage: ..., channel: ...}",
                             empty_values=True),
        "goal_touchpoints": ListOf(Name(), "a touchpoint name or a list of them, e.g. [web_purchase]",
                                   single=str),
        "conversion_window_days": Number("a number of days, or null for no window"),
        "currency": Currency(),
        "customer_attributes": MapOf(ATTRIBUTE, "a mapping of customer columns to {kind: numeric|category|date}, "
                                                "e.g. {region: {kind: category}}", empty_values=True),
        "objectives": ListOf(OBJECTIVE, "a list of objectives, each {id, goal, kpi, baseline, target}"),
        "interventions": ListOf(INTERVENTION, "a list of interventions, each {id, date, design, kpis}"),
        "parameters": MapOf(MapOf(Anything(), "a mapping of parameter names to values"),
                            "a mapping of stage names to {parameter: value}", empty_values=True),
        "engine": ENGINE,
    },
    "a mapping of keys (tables, stages, touchpoints …)",
    what="study.yaml",
)


def shape_problems(config: Any) -> list[Problem]:
    """Every place where study.yaml's content does not have the shape ``SCHEMA`` gives it, as
    (key, message)."""
    return list(SCHEMA.problems(config, ""))


# --------------------------------------------------------------------------- references
def _kpi(kpi: Any, key: str) -> list[Problem]:
    if str(kpi) in KPI_IDS:
        return []
    near = difflib.get_close_matches(str(kpi), KPI_IDS, n=1, cutoff=0.6)
    return [(key, f"'{kpi}' is not a KPI id{f' (did you mean {near[0]}?)' if near else ''}; "
                  f"the KPIs are {', '.join(KPI_IDS)} (cxlab kpis says what each measures)")]


def reference_problems(config: dict) -> list[Problem]:
    """What a well-shaped study.yaml names that does not exist (see the module doc), as
    (key, message)."""
    out: list[Problem] = []
    for i, spec in enumerate(config.get("objectives") or []):
        if spec.get("kpi") is not None:
            out += _kpi(spec["kpi"], f"objectives.{spec.get('id', i)}.kpi")
    for i, spec in enumerate(config.get("interventions") or []):
        key = f"interventions.{spec.get('id', i)}"
        kpis = spec.get("kpis")
        kpis = [] if kpis is None else kpis if isinstance(kpis, list) else [kpis]
        for kpi in kpis:
            out += _kpi(kpi, f"{key}.kpis")
        for kpi in (spec.get("min_effect") or {}):
            problems = _kpi(kpi, f"{key}.min_effect.{kpi}")
            out += problems
            if not problems and kpi not in [str(k) for k in kpis]:
                out.append((f"{key}.min_effect.{kpi}", f"is not one of this intervention's kpis "
                                                       f"({', '.join(map(str, kpis)) or 'none'})"))
    impact = (config.get("parameters") or {}).get("impact") or {}
    if "correction" in impact and impact["correction"] not in CORRECTIONS:
        out.append(("parameters.impact.correction",
                    f"'{impact['correction']}' must be one of {', '.join(CORRECTIONS)} (holm: the chance of any "
                    "false positive; bh: the false discovery rate, Benjamini-Hochberg)"))
    for name, spec in (config.get("customer_attributes") or {}).items():
        bins = (spec or {}).get("bins")
        if bins is None:
            continue
        key = f"customer_attributes.{name}.bins"
        if len(bins) < 2:
            out.append((key, f"needs at least two edges (got {_flow(bins)})"))
        elif any(b >= a for a, b in zip(bins[1:], bins[:-1])):
            out.append((key, f"must increase from one edge to the next (got {_flow(bins)})"))
        if (spec or {}).get("kind", "category") == "category":
            out.append((key, "a category attribute takes no bins (give kind: numeric or date)"))
    return out
