"""The target-rationale configuration (``config/targets.yaml``): axes, drugs, the flag rule and the two contrasts.

:func:`load_targets` reads and validates the file against ``workflow/schemas/targets.schema.yaml`` and returns a
typed :class:`Targets`. The schema is the one source of the defaults: :class:`FlagRule` and :class:`Targets` fill
what the file leaves out from it (:meth:`FlagRule.from_config`, :func:`parse_targets`).

The vote values (``up`` / ``down`` / ``none``) and gene roles used by the evidence lines are defined here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

from target_rationale.core.errors import InputError
from target_rationale.core.schema import (
    SCHEMA_DIR,
    error_message,
    key_name,
    load_yaml,
    short,
    short_list,
    size_problems,
    with_defaults,
)

#: The JSON schema of ``config/targets.yaml``.
SCHEMA_PATH = SCHEMA_DIR / "targets.schema.yaml"

UP, DOWN, NONE = "up", "down", "none"
#: Gene roles in the order a gene listed under several keys is assigned (a receptor that is also a marker is a
#: receptor).
ROLES = ("receptor", "ligand", "marker")
#: Roles counted by the gene evidence line.
CORE_ROLES = ("receptor", "ligand")


@dataclass(frozen=True)
class Axis:
    """One signalling axis of ``config/targets.yaml``.

    Attributes
    ----------
    name : str
        Axis name (``EGFR``); a column name of the score table.
    receptors, ligands, markers : tuple of str
        Gene symbols. Receptors and ligands make the gene evidence line; markers (cell types) are reported and
        scored only.
    terms : tuple of str
        Gene-set term ids in any collection (``GO:0007173``, ``hsa04012``, ``WP673``, ``HALLMARK_ANGIOGENESIS``).
    caveat : str
        Text shown with the axis (what bulk RNA can show about it).
    """

    name: str
    receptors: tuple[str, ...]
    ligands: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    caveat: str = ""

    @property
    def genes(self) -> dict[str, str]:
        """``{symbol: role}`` in the order receptors, ligands, markers; a gene listed twice keeps its first role."""
        roles: dict[str, str] = {}
        for role, symbols in zip(ROLES, (self.receptors, self.ligands, self.markers)):
            for symbol in symbols:
                roles.setdefault(symbol, role)
        return roles


@dataclass(frozen=True)
class Drug:
    """A drug and the genes it inhibits (matched against the axes' receptors)."""

    name: str
    targets: tuple[str, ...]
    note: str = ""


def axis_genes(var: pd.DataFrame, axis: Axis | Sequence[str]) -> list[str]:
    """``var_names`` of an axis' measured genes (receptors, ligands, markers; or the given symbols), matched on
    ``var['symbol']`` (on the index itself when there is no ``symbol`` column)."""
    symbols = var["symbol"] if "symbol" in var.columns else pd.Series(var.index, index=var.index)
    wanted = set(axis.genes if isinstance(axis, Axis) else axis)
    return [str(g) for g in symbols.index[symbols.isin(wanted)]]


@dataclass(frozen=True)
class FlagRule:
    """How three evidence lines make a flag (``config/targets.yaml`` ``flag:``).

    The fields have no defaults here: :meth:`from_config` fills what a config leaves out from the schema
    (``workflow/schemas/targets.schema.yaml``, ``flag:``), and ``FlagRule.from_config()`` is the default rule.

    Attributes
    ----------
    min_genes : int
        Gene line: at least this many receptors + ligands significant (DE padj < alpha) in one direction, and
        fewer than this many in the other, for the line to vote that direction. Schema default 2: one gene is too
        easily noise or one cell type.
    min_receptors : int
        Gene line: at least this many of the genes counted in the voting direction must be receptors (drugs act
        on receptors; ligands alone do not make a target). Schema default 1; 0 lets ligands alone vote.
    min_terms : int
        Pathway line: at least this many of the axis' terms significant in the term test (camera FDR <
        enrichment.term_fdr) in one direction, and fewer than this many in the other. Schema default 1: axes
        have few, overlapping gene sets.
    score_p : float
        Score line: two-sided p-value (Wilcoxon signed-rank on patients' pairs where the design has them, else
        Mann-Whitney) below which the line votes the sign of the score difference.
        Schema default 0.05.
    min_lines : int
        Lines that must vote one direction, with none voting the other, for ``vote_flag`` (the evidence lines'
        combined vote, reported next to the flag). Schema default 2 (of 3).
    alpha : float
        The flag: Holm-adjusted p-value of the calibrated axis test (fry, across axes x contrasts) below which an
        axis is flagged. Schema default 0.05.
    min_effect : float
        The flag: least absolute mean log2 change of the axis' genes (variance-stabilised) for a flag. Schema
        default 0.2.
    bootstrap : int
        Resamples of the patients on which the tests and flags are redone for their stability. Schema default
        100.
    """

    min_genes: int
    min_receptors: int
    min_terms: int
    score_p: float
    min_lines: int
    alpha: float
    min_effect: float
    bootstrap: int

    @classmethod
    def from_config(cls, section: Mapping | None = None) -> FlagRule:
        """The rule of a ``flag:`` section (validated; possibly partial or None), completed from the schema."""
        return cls(**with_defaults(section, "targets", "flag"))


@dataclass(frozen=True)
class Targets:
    """The whole of ``config/targets.yaml``: axes and drugs in file order, the flag rule and the two contrasts.

    No field has a default: :func:`parse_targets` fills what the file leaves out from the schema.

    Attributes
    ----------
    axes : dict of str to Axis
    drugs : dict of str to Drug
    flag : FlagRule
    metastasis : str
        Contrast whose up-flagged axes the therapies should cover.
    primary : str
        Contrast against which an axis flagged in ``metastasis`` is called unique (not flagged here).
    """

    axes: dict[str, Axis]
    drugs: dict[str, Drug]
    flag: FlagRule
    metastasis: str
    primary: str


def targets_problems(data: Any, schema: Mapping) -> list[str]:
    """One line per way ``data`` breaks the targets ``schema``, each naming the key (empty if none)."""
    if not isinstance(data, Mapping):
        return [f"(top level): expected a mapping with keys axes, drugs, flag, contrasts; got {type(data).__name__}"]
    too_large = size_problems(data, "")
    if too_large:
        return too_large
    problems = []
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(data), key=lambda e: ([str(p) for p in e.absolute_path], e.message)):
        key = key_name(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed), key=str)
            problems.append(f"{key}: unknown key(s) {short_list(unknown)}; allowed keys are {', '.join(allowed)}")
        elif error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            problems.append(f"{key}: missing required key(s) {', '.join(repr(m) for m in missing)}")
        elif "propertyNames" in error.absolute_schema_path:
            problems.append(f"{key}: name {short(error.instance)} is not allowed; use letters, digits, '_', '.', '+', "
                            "'-'")
        elif error.validator == "minItems" and error.validator_value == 1:
            problems.append(f"{key}: must list at least one gene symbol")
        else:
            problems.append(f"{key}: {error_message(error)}")
    contrasts = data.get("contrasts") or {}
    if isinstance(contrasts, Mapping) and contrasts.get("metastasis") and \
            contrasts.get("metastasis") == contrasts.get("primary"):
        problems.append(f"contrasts: metastasis and primary are both {short(contrasts['metastasis'])}; name two "
                        "different contrasts")
    return problems


def parse_targets(data: Mapping) -> Targets:
    """Typed :class:`Targets` from validated ``config/targets.yaml`` content, with the schema's defaults filled in."""
    def symbols(entry: Mapping, key: str) -> tuple[str, ...]:
        return tuple(str(s) for s in (entry.get(key) or []))

    axes = {str(name): Axis(name=str(name), receptors=symbols(spec, "receptors"), ligands=symbols(spec, "ligands"),
                            terms=symbols(spec, "terms"), markers=symbols(spec, "markers"),
                            caveat=" ".join(str(spec.get("caveat") or "").split()))
            for name, spec in data["axes"].items()}
    drugs = {str(name): Drug(name=str(name), targets=symbols(spec, "targets"),
                             note=" ".join(str(spec.get("note") or "").split()))
             for name, spec in data["drugs"].items()}
    contrasts = with_defaults(data.get("contrasts"), "targets", "contrasts")
    return Targets(axes=axes, drugs=drugs, flag=FlagRule.from_config(data.get("flag")),
                   metastasis=str(contrasts["metastasis"]), primary=str(contrasts["primary"]))


def load_targets(path: str | Path, contrasts: Iterable[str] | None = None,
                 schema_path: str | Path = SCHEMA_PATH) -> Targets:
    """Read, validate and type ``config/targets.yaml``.

    Parameters
    ----------
    path : str or path
        The targets YAML file.
    contrasts : iterable of str, optional
        Contrast names of the workflow config; when given, ``contrasts.metastasis`` and ``contrasts.primary``
        must be among them.
    schema_path : str or path
        JSON schema (draft 2020-12) to validate against; the shipped ``workflow/schemas/targets.schema.yaml``.

    Returns
    -------
    Targets

    Raises
    ------
    InputError
        One line per problem, each starting with the file and naming the key (``drugs.crizotinib: missing
        required key(s) 'targets'``).
    """
    path = Path(path)
    schema = yaml.safe_load(Path(schema_path).read_text())
    try:
        data = load_yaml(path, "targets file")
    except FileNotFoundError as err:
        raise InputError(f"targets file '{path}' does not exist") from err
    except ValueError as err:  # too large, not YAML, an alias bomb: one short line
        raise InputError(str(err)) from err
    problems = targets_problems(data, schema)
    if not problems:
        targets = parse_targets(data)
        if contrasts is not None:
            known = list(contrasts)
            for role in ("metastasis", "primary"):
                name = getattr(targets, role)
                if name not in known:
                    problems.append(f"contrasts.{role}: {short(name)} is not a contrast of the workflow config; "
                                    f"set it to one of {', '.join(known)}")
    if problems:
        raise InputError([f"targets file '{path}': {p}" for p in problems])
    return targets
