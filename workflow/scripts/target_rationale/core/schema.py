"""The workflow's JSON schemas (``workflow/schemas/``) as the one source of defaults.

Settings objects (``FitSettings``, ``WaldSettings``, ``EnrichSettings``, the targets' flag rule, ...) declare
their fields without defaults and fill what a config leaves out from the schema, so a default is written once, next
to its description, and ``config/README.md`` is checked against the same file (``tests/core/test_schema.py``).

:func:`config_problems` words each way a config breaks the schema as one short line, and adds what a JSON schema
cannot say: non-finite numbers (``.nan`` and ``.inf`` pass every bound), keys that must agree with each other
(:func:`cross_key_problems`), and values too large to check (a YAML alias bomb: :func:`size_problems`). Every
value quoted in a line is cut to :data:`MAX_VALUE_CHARS` (:func:`short`). :class:`LimitedLoader` is the YAML
loader for the files the workflow loads itself (the targets file), which stops such a bomb while parsing.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

#: ``workflow/schemas/``.
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"

#: Characters of a value quoted in an error line before it is cut with ``...``: a value pasted by mistake, or a
#: YAML alias bomb, must not make an error line of megabytes.
MAX_VALUE_CHARS = 80
#: Names listed in one error line (unknown keys ...) before it says "and N more".
MAX_NAMES_LISTED = 5
#: Values (mappings, lists and scalars, counted as if every YAML alias were written out) one config section or
#: YAML file may hold. The shipped config holds about 60 and a long gene list a few thousand; an alias bomb of
#: 9 levels of 9 aliases holds 9^9 = 387,420,489 (checking it would take minutes and gigabytes).
MAX_DOCUMENT_NODES = 100_000
#: YAML aliases (``*name``) one file the workflow loads itself may use; anchors for a few repeated gene lists
#: need a handful.
MAX_YAML_ALIASES = 1_000
#: Bytes of a YAML file the workflow loads itself (the targets file: the shipped one is 6 kB).
MAX_YAML_BYTES = 1 << 20
#: ``seed`` must fit numpy's random seeds: whole numbers 0 .. 2^32 - 1.
SEED_MIN, SEED_MAX = 0, 2**32 - 1


@functools.cache
def load_schema(name: str) -> dict:
    """The schema ``workflow/schemas/<name>.schema.yaml`` (``config``, ``samples``, ``targets``), parsed once.

    A shipped file, so read with libyaml's safe loader where PyYAML has it (the same document, 9x faster: 0.01
    against 0.08 s for the config schema, which every ``snakemake`` call and many jobs parse).
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SCHEMA_DIR / f"{name}.schema.yaml").read_text(encoding="utf-8"), Loader=loader)


def subschema(schema: Mapping, *keys: str) -> Mapping:
    """The schema of the object at ``keys`` (``subschema(s, "diffexp")`` is the ``diffexp:`` section's)."""
    for key in keys:
        schema = schema["properties"][key]
    return schema


def defaults(schema_name: str, *keys: str) -> dict[str, Any]:
    """The schema's default of every key of the object at ``keys`` that declares one.

    >>> defaults("config", "diffexp")["alpha"]
    0.05
    """
    properties = subschema(load_schema(schema_name), *keys).get("properties", {})
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def with_defaults(section: Mapping | None, schema_name: str, *keys: str) -> dict[str, Any]:
    """``section`` (a config section, possibly partial or None) completed with the schema's defaults."""
    return {**defaults(schema_name, *keys), **dict(section or {})}


def fields_of(settings_class: type) -> tuple[str, ...]:
    """The config keys a settings dataclass reads (its field names)."""
    return tuple(settings_class.__dataclass_fields__)


class ConfigSettings:
    """Base of the settings dataclasses: the keys a job reads of one config section (``SECTION``), the schema's
    defaults filling what the section leaves out."""

    SECTION: str = ""

    @classmethod
    def from_config(cls, section: Mapping | None = None):
        """From a (partial) config section, the schema's defaults filling the rest."""
        complete = with_defaults(section, "config", cls.SECTION)
        return cls(**{key: complete[key] for key in fields_of(cls)})


def pick(section: Mapping, settings_class: type) -> dict[str, Any]:
    """The part of a config ``section`` that ``settings_class`` reads: what a rule hands its job as a param, so
    that changing any other key of the section does not rerun the job."""
    return {key: section[key] for key in fields_of(settings_class) if key in section}


def config_problems(config: Mapping, schema: dict) -> list[str]:
    """One line per way ``config`` breaks the JSON ``schema`` (unknown keys, wrong types, bad values), or a rule
    the schema cannot state (non-finite numbers, :func:`cross_key_problems`).

    ``snakemake.utils.validate`` stops at the first error and prints the whole schema; this names each key. A
    section too large to check (:func:`size_problems`) is reported alone, before anything else is checked.
    """
    too_large = size_problems(config, "config: ")
    if too_large:
        return too_large
    validator = StrictValidator(schema)
    problems, keys = [], set()
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        key = key_name(error.absolute_path)
        keys.add(key)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed), key=str)
            problems.append(f"config: unknown key(s) {short_list(unknown)} at {key}; allowed keys are "
                            f"{', '.join(allowed)} (see config/README.md)")
        elif error.validator == "oneOf":
            forms = "; ".join(_describe_branch(branch) for branch in error.validator_value)
            problems.append(f"config: {key} = {short(error.instance)} fits none of the allowed forms ({forms}); see "
                            "config/README.md")
        elif error.validator == "enum":
            problems.append(f"config: {key} = {short(error.instance)} is not allowed; use one of "
                            f"{', '.join(map(str, error.validator_value))}")
        else:
            problems.append(f"config: {key}: {error_message(error)}{fix_hint(error)}")
    extra = [(key, f"config: {key} = {short(value)} is not a finite number; give a number (see config/README.md)")
             for key, value in non_finite(config)]
    extra += cross_key_problems(config, schema)
    return problems + [problem for key, problem in extra if key not in keys]


def cross_key_problems(config: Mapping, schema: Mapping) -> list[tuple[str, str]]:
    """``(key, problem)`` for each value the schema allows but the workflow cannot use, alone or with another key.

    * ``seed`` outside :data:`SEED_MIN` .. :data:`SEED_MAX` (numpy's seeds; a job would fail late);
    * ``enrichment.min_size`` above ``enrichment.max_size`` (no gene set could be tested), defaults filled in
      from ``schema``;
    * ``geneset_cache`` empty or only white space (an empty one would put downloads at the file system's root,
      ``/<cache key>/``).

    Parameters
    ----------
    config : mapping
        The config as written (before the schema's defaults are filled in).
    schema : mapping
        The config schema, for the defaults of keys the config leaves out.

    Returns
    -------
    list of (str, str)
        The key each problem is about and its line; empty if none.
    """
    problems = []
    seed = config.get("seed")
    if _is_integer(seed) and not SEED_MIN <= seed <= SEED_MAX:
        problems.append(("seed", f"config: seed = {short(seed)} is outside {SEED_MIN}..{SEED_MAX} (the seeds numpy "
                                 "accepts); give a whole number in that range, e.g. 42"))
    enrichment = config.get("enrichment")
    if isinstance(enrichment, Mapping) or enrichment is None:
        defaults_ = {key: spec.get("default") for key, spec in
                     subschema(schema, "enrichment").get("properties", {}).items()}
        sizes = {key: (enrichment or {}).get(key, defaults_.get(key)) for key in ("min_size", "max_size")}
        if all(_is_integer(v) for v in sizes.values()) and sizes["min_size"] > sizes["max_size"]:
            given = {key: "" if key in (enrichment or {}) else " (the default)" for key in sizes}
            problems.append(("enrichment.min_size",
                             f"config: enrichment.min_size = {short(sizes['min_size'])}{given['min_size']} is larger "
                             f"than enrichment.max_size = {short(sizes['max_size'])}{given['max_size']}, so no gene "
                             "set could be "
                             "tested; make min_size <= max_size"))
    cache = config.get("geneset_cache")
    if isinstance(cache, str) and not cache.strip():
        problems.append(("geneset_cache", f"config: geneset_cache = {short(cache)} names no folder; give the folder "
                                          "for downloaded collections, e.g. resources/genesets/cache (the default)"))
    return problems


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: The schemas' validator, with ``integer`` meaning a whole number written as one: JSON Schema counts ``4.0`` as an
#: integer, but numpy's seeds, array sizes and ``range`` refuse a float, so ``seed: 4.0`` would fail in a job.
StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: _is_integer(value)))

_TYPE_WORDS = {"integer": "a whole number without a decimal point (e.g. 42)", "number": "a number",
               "string": "text", "boolean": "true or false", "array": "a list", "object": "a mapping of keys",
               "null": "null"}


def fix_hint(error: jsonschema.ValidationError, doc: str = "config/README.md") -> str:
    """The fix for a schema error, as the end of its line (``""`` where the message says it already); ``doc``
    explains the allowed forms."""
    value = error.validator_value
    if error.validator == "type":
        kinds = value if isinstance(value, list) else [value]
        return "; give " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    if error.validator == "required":
        return f"; add it (see {doc})"
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    if error.validator in bounds:
        return f"; give a value {bounds[error.validator]} {value}"
    if error.validator in ("pattern", "propertyNames", "minLength", "maxLength", "minItems", "maxItems",
                           "minProperties", "uniqueItems"):
        return f"; see {doc} for the allowed form"
    return ""


# ---------------------------------------------------------------------------------------------------------------
# Short error lines


def key_name(path: Any) -> str:
    """``drugs.crizotinib.targets[0]`` from a path of keys and indices (``(top level)`` when empty)."""
    text = "".join(f"[{p}]" if isinstance(p, int) else (f".{short(p, quote=False)}" if i else short(p, quote=False))
                   for i, p in enumerate(path))
    return text or "(top level)"


def short(value: Any, limit: int = MAX_VALUE_CHARS, quote: bool = True) -> str:
    """``repr(value)`` (``str`` with ``quote=False``), cut to ``limit`` characters plus ``...``.

    Built piece by piece, so a huge value (an alias bomb of billions of items, a string of megabytes) costs no
    more than ``limit`` characters. Mappings read like dicts (``{'a': 1}``), sequences like lists.
    """
    pieces, size = [], 0
    for piece in (_repr_pieces(value, limit) if quote else [str(value)[:limit + 1]]):
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            return "".join(pieces)[:limit] + "..."
    return "".join(pieces)


def _repr_pieces(value: Any, limit: int) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ", " if i else ""
            yield from _repr_pieces(key, limit)
            yield ": "
            yield from _repr_pieces(item, limit)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            yield ", " if i else ""
            yield from _repr_pieces(item, limit)
        yield "]"
    elif isinstance(value, str) and len(value) > limit:
        yield repr(value[:limit + 1])[:-1]
    elif isinstance(value, int) and value.bit_length() > 14_000:  # repr raises past 4300 digits
        yield f"<a whole number of {value.bit_length():,} bits>"
    else:
        yield repr(value)


def short_list(values: list, most: int = MAX_NAMES_LISTED) -> str:
    """``'a', 'b' and 3 more``: up to ``most`` values, each :func:`short`."""
    shown = ", ".join(short(v) for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def error_message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message for ``error``, with the value it quotes cut by :func:`short` (the whole line stays
    short even when the value is long)."""
    message = error.message
    quoted = repr(error.instance)
    if len(quoted) > MAX_VALUE_CHARS and quoted in message:
        message = message.replace(quoted, short(error.instance))
    if len(message) > 4 * MAX_VALUE_CHARS:
        message = message[:4 * MAX_VALUE_CHARS] + "..."
    return " ".join(message.split())


# ---------------------------------------------------------------------------------------------------------------
# Values a schema cannot judge: non-finite numbers, alias bombs


def non_finite(document: Any) -> list[tuple[str, float]]:
    """``(key, value)`` of every NaN or infinite number in ``document`` (mappings and lists, any depth).

    A value shared by YAML aliases is visited once (under the first key that reaches it).
    """
    found, seen = [], set()
    stack: list[tuple[Any, tuple]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append((key_name(path), value))
        elif isinstance(value, Mapping | list | tuple) and id(value) not in seen:
            seen.add(id(value))
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            stack.extend((item, (*path, key)) for key, item in reversed(list(items)))
    return found


def expanded_size(value: Any, limit: int = MAX_DOCUMENT_NODES) -> float:
    """How many values ``value`` holds (itself, every key, item and scalar) as if YAML aliases were written out.

    Shared values are counted once per place they appear, but visited once, so an alias bomb costs no more
    than its distinct values. Counting stops past ``limit`` (returns a number above it); a value that contains
    itself (``&a [*a]``) is infinitely large.
    """
    if not isinstance(value, Mapping | list | tuple):
        return 1
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    visited = 0
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, done = stack.pop()
        children = list(node.keys()) + list(node.values()) if isinstance(node, Mapping) else node
        if done:
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            open_.discard(id(node))
            sizes[id(node)] = total
            if total > limit:
                return total
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_:
            return math.inf
        visited += 1
        if visited > limit:
            return visited
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if isinstance(child, Mapping | list | tuple))
    return sizes.get(id(value), 1)


def size_problems(document: Any, prefix: str, limit: int = MAX_DOCUMENT_NODES) -> list[str]:
    """One line per top-level key of ``document`` (or the whole) holding more than ``limit`` values once YAML
    aliases are expanded (:func:`expanded_size`): checking such a value, or quoting it, would never end."""
    parts = document.items() if isinstance(document, Mapping) else [("(top level)", document)]
    problems = []
    for key, value in parts:
        if isinstance(value, Mapping | list | tuple) and expanded_size(value, limit) > limit:
            problems.append(f"{prefix}{short(key, quote=False)} holds more than {limit:,} values once YAML aliases "
                            "(*name) are expanded; write its values out (an alias bomb is not a config)")
    if not problems and isinstance(document, Mapping) and expanded_size(document, limit) > limit:
        problems.append(f"{prefix}(top level) holds more than {limit:,} values once YAML aliases (*name) are "
                        "expanded; write its values out")
    return problems


class DocumentTooLarge(yaml.YAMLError):
    """A YAML document exceeds :data:`MAX_YAML_ALIASES` or :data:`MAX_DOCUMENT_NODES`: the message says which."""


class LimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that stops a document using more than :data:`MAX_YAML_ALIASES` aliases or holding more
    than :data:`MAX_DOCUMENT_NODES` values once its aliases are expanded (a "billion laughs" bomb), while
    parsing, before any Python object is built."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.n_aliases = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.n_aliases += 1
            if self.n_aliases > MAX_YAML_ALIASES:
                raise DocumentTooLarge(f"uses more than {MAX_YAML_ALIASES:,} aliases (*name)")
            anchored = self.anchors.get(self.peek_event().anchor)
            if anchored is not None and id(anchored) not in self._sizes:
                raise DocumentTooLarge("holds a value that contains itself (an alias inside its own anchor)")
        node = super().compose_node(parent, index)
        if id(node) not in self._sizes:
            if isinstance(node, yaml.MappingNode):
                children = [child for pair in node.value for child in pair]
            else:
                children = node.value if isinstance(node, yaml.SequenceNode) else []
            size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
            if size > MAX_DOCUMENT_NODES:
                raise DocumentTooLarge(f"holds more than {MAX_DOCUMENT_NODES:,} values once its aliases (*name) are "
                                       "expanded")
            self._sizes[id(node)] = size
        return node


def yaml_error_text(err: yaml.YAMLError) -> str:
    """A YAML parser's error as one short line that starts with where it is: ``line 8, column 1: expected ',' or
    ']', but got '<scalar>' (in the flow sequence of line 7, column 9); fix the YAML there`` (lines and columns
    from 1, as editors count)."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        text = f"line {mark.line + 1}, column {mark.column + 1}: {err.problem}"
        if err.context and err.context_mark is not None:
            context = str(err.context).replace("while parsing a ", "in the ").replace("while scanning a ", "in the ")
            text += f" ({context} of line {err.context_mark.line + 1}, column {err.context_mark.column + 1})"
        return short(" ".join(text.split()), 200, False) + "; fix the YAML there"
    return short(" ".join(str(err).split()), 200, False)


def config_file_problem(path: str | Path) -> str | None:
    """The one line of a config file that Snakemake cannot read, naming the line and column of its YAML error
    (Snakemake's own message names neither); None when it reads as JSON or YAML, as Snakemake reads it, or cannot
    be read at all (Snakemake names a missing or undecodable file itself)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        json.loads(text)
        return None
    except ValueError:
        pass
    try:
        yaml.safe_load(text)  # aliases are shared, not copied: an alias bomb costs nothing here (checked later)
        return None
    except yaml.YAMLError as err:
        return f"config file '{path}' is not valid YAML: {yaml_error_text(err)}"


def load_yaml(path: str | Path, what: str) -> Any:
    """Parse the YAML file ``path`` with :class:`LimitedLoader`, after checking it is at most
    :data:`MAX_YAML_BYTES`.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        How error lines name it (``targets file``).

    Raises
    ------
    FileNotFoundError
        If it does not exist.
    ValueError
        One short line (the file, the reason): too large, not YAML, too many aliases or values, nested too
        deeply.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ValueError(f"{what} '{path}' is {size:,} bytes; at most {MAX_YAML_BYTES:,} are read")
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.load(text, Loader=LimitedLoader)
    except DocumentTooLarge as err:
        raise ValueError(f"{what} '{path}' {err}; write the values out") from err
    except yaml.YAMLError as err:
        raise ValueError(f"{what} '{path}' is not valid YAML: {yaml_error_text(err)}") from err
    except RecursionError as err:
        raise ValueError(f"{what} '{path}' is nested too deeply to read") from err


def _describe_branch(schema: dict) -> str:
    """``{source: kegg_rest, organism?, base_url?}``: one allowed form of a ``oneOf`` config entry."""
    if schema.get("type") == "null":
        return "null"
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    parts = []
    for name, spec in properties.items():
        if "const" in spec:
            parts.append(f"{name}: {spec['const']}")
        else:
            parts.append(name if name in required else f"{name}?")
    return "{" + ", ".join(parts) + "}"
