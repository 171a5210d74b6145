"""The target-rationale configuration (``config/targets.yaml``): axes, drugs, the flag rule and the contrasts by role.

:func:`load_targets` reads and validates the file against ``workflow/schemas/targets.schema.yaml`` and returns a
typed :class:`Targets`. The schema is the one source of the defaults: :class:`FlagRule` and :class:`Targets` fill
what the file leaves out from it (:meth:`FlagRule.from_config`, :func:`parse_targets`).

The contrasts are named by role (:data:`ROLE_KEYS`): ``metastasis`` (metastasis vs normal tissue), ``primary``
(primary vs normal tissue) and ``metastasis_vs_primary`` (the direct contrast); a cohort without normal tissue
names only the last. :func:`resolve_roles` checks them against the workflow's contrasts.

The vote values (``up`` / ``down`` / ``none``) and gene roles used by the evidence lines are defined here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from target_rationale.cohort.design import Contrast, direct_between
from target_rationale.core.errors import InputError
from target_rationale.core.schema import (
    SCHEMA_DIR,
    StrictValidator,
    error_message,
    fix_hint,
    key_name,
    load_schema,
    load_yaml,
    short,
    short_list,
    size_problems,
    subschema,
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
#: The roles a contrast can play in the target stage (``contrasts:`` keys of the targets file).
ROLE_KEYS = ("metastasis", "primary", "metastasis_vs_primary")


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
    reference_prevalence : tuple of (float, str) or None
        A published share of tumours with the axis active and its source, printed beside the cohort's.
    """

    name: str
    receptors: tuple[str, ...]
    ligands: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    caveat: str = ""
    reference_prevalence: tuple[float, str] | None = None

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
    """The whole of ``config/targets.yaml``: axes and drugs in file order, the flag rule and the contrasts by role.

    No field has a default: :func:`parse_targets` fills what the file leaves out from the schema.

    Attributes
    ----------
    axes : dict of str to Axis
    drugs : dict of str to Drug
    flag : FlagRule
    metastasis : str or None
        Metastasis vs normal tissue: the contrast whose up-flagged axes the therapies should cover.
    primary : str or None
        Primary vs normal tissue: an axis flagged in ``metastasis`` and not here is unique to metastasis (when
        ``metastasis_vs_primary`` confirms it).
    metastasis_vs_primary : str or None
        The direct contrast. Without ``metastasis`` (a cohort without normal tissue) the therapies cover the axes
        flagged up here: up in metastases relative to primaries. None with both others named: :func:`infer_direct`
        finds it among the contrasts.
    """

    axes: dict[str, Axis]
    drugs: dict[str, Drug]
    flag: FlagRule
    metastasis: str | None
    primary: str | None
    metastasis_vs_primary: str | None

    @property
    def judged(self) -> str:
        """The contrast whose up-flagged axes the therapies should cover: ``metastasis``, else
        ``metastasis_vs_primary``."""
        return str(self.metastasis or self.metastasis_vs_primary)

    @property
    def roles(self) -> dict[str, str]:
        """``{contrast: role}`` of the named roles."""
        return {getattr(self, role): role for role in ROLE_KEYS if getattr(self, role)}

    @property
    def compares(self) -> bool:
        """Whether shared / unique are called: both tumour-vs-normal contrasts are named."""
        return bool(self.metastasis and self.primary)


def role_problems(roles: Any) -> list[str]:
    """One line per way the ``contrasts:`` roles (validated types) cannot work together (empty if none)."""
    if not isinstance(roles, Mapping):
        return []
    named = {role: roles.get(role) for role in ROLE_KEYS if roles.get(role)}
    problems = []
    if not (named.get("metastasis") or named.get("metastasis_vs_primary") or named.get("primary")):
        problems.append("contrasts: name `metastasis` (metastasis vs normal tissue) or `metastasis_vs_primary` (a "
                        "cohort without normal tissue): the stage judges axes in one of them")
    if named.get("primary") and not named.get("metastasis"):
        problems.append("contrasts: `primary` is compared with `metastasis`, which is not named; name both "
                        "tumour-vs-normal contrasts or only `metastasis_vs_primary`")
    values = list(named.values())
    for value in dict.fromkeys(v for v in values if values.count(v) > 1):
        same = [r for r, v in named.items() if v == value]
        problems.append(f"contrasts: {', '.join(same[:-1])} and {same[-1]} are "
                        f"{'both' if len(same) == 2 else 'all'} {short(value)}; each role needs its own contrast")
    return problems


def roles_of(data: Mapping) -> dict[str, str | None]:
    """The roles of a targets file: its ``contrasts:`` section (a role it leaves out is not named), or the
    schema's default section when it has none."""
    section = data.get("contrasts")
    if section is None:
        section = subschema(load_schema("targets"), "contrasts")["default"]
    return {role: (str(section[role]) if section.get(role) else None) for role in ROLE_KEYS}


def targets_problems(data: Any, schema: Mapping) -> list[str]:
    """One line per way ``data`` breaks the targets ``schema``, each naming the key (empty if none)."""
    if not isinstance(data, Mapping):
        return [f"(top level): expected a mapping with keys axes, drugs, flag, contrasts; got {type(data).__name__}"]
    too_large = size_problems(data, "")
    if too_large:
        return too_large
    problems = []
    validator = StrictValidator(schema)
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
            problems.append(f"{key}: {error_message(error)}{fix_hint(error, 'config/targets.yaml')}")
    problems += role_problems(data.get("contrasts"))
    return problems


def parse_targets(data: Mapping) -> Targets:
    """Typed :class:`Targets` from validated ``config/targets.yaml`` content, with the schema's defaults filled in."""
    def symbols(entry: Mapping, key: str) -> tuple[str, ...]:
        return tuple(str(s) for s in (entry.get(key) or []))

    axes = {str(name): Axis(name=str(name), receptors=symbols(spec, "receptors"), ligands=symbols(spec, "ligands"),
                            terms=symbols(spec, "terms"), markers=symbols(spec, "markers"),
                            caveat=" ".join(str(spec.get("caveat") or "").split()),
                            reference_prevalence=(float(spec["reference_prevalence"]["share"]),
                                                  " ".join(str(spec["reference_prevalence"]["source"]).split()))
                            if spec.get("reference_prevalence") else None)
            for name, spec in data["axes"].items()}
    drugs = {str(name): Drug(name=str(name), targets=symbols(spec, "targets"),
                             note=" ".join(str(spec.get("note") or "").split()))
             for name, spec in data["drugs"].items()}
    return Targets(axes=axes, drugs=drugs, flag=FlagRule.from_config(data.get("flag")), **roles_of(data))


def symbol_problems(targets: Targets, known: Iterable[str]) -> list[str]:
    """One line per gene symbol of the axes (receptors, ligands, markers) and the drugs' targets that is not in
    ``known``, the symbols the cohort's genes can carry (:func:`target_rationale.cohort.ids.cohort_symbols`;
    lines start with the key, e.g. ``axes.EGFR.receptors``). Such a symbol is a typo or an alias: it would be "not
    measured" in every table, and a drug listing it would silently cover nothing. A symbol that only differs in
    case from a known one is named in the fix."""
    known = known if isinstance(known, (set, frozenset)) else set(known)
    entries = [(f"axes.{axis.name}.{key}", getattr(axis, key)) for axis in targets.axes.values()
               for key in ("receptors", "ligands", "markers")]
    entries += [(f"drugs.{drug.name}.targets", drug.targets) for drug in targets.drugs.values()]
    problems = []
    by_case: dict[str, str] = {}
    for key, symbols in entries:
        unknown = [s for s in dict.fromkeys(symbols) if s not in known]
        if not unknown:
            continue
        if not by_case:  # only when a symbol is unknown: the case-insensitive index of every known symbol
            for symbol in sorted(known):
                by_case.setdefault(symbol.upper(), symbol)
        cased = [f"{short(s)} -> {short(by_case[s.upper()])}" for s in unknown if s.upper() in by_case]
        fixes = [f"write {', '.join(cased)} (symbols are case-sensitive)"] if cased else []
        if len(cased) < len(unknown):
            fixes.append("fix the spelling (HGNC symbols), add the gene to the gene_id_map, or remove it")
        fix = "; ".join(fixes)
        problems.append(f"{key}: {short_list(unknown)} {'is' if len(unknown) == 1 else 'are'} not a symbol of the "
                        f"gene id map or of the counts' genes; {fix}")
    return problems


def contrast_problems(targets: Targets, contrasts: Iterable[Contrast | str]) -> list[str]:
    """One line per role naming no contrast of the workflow config, or a ``metastasis_vs_primary`` that does
    not compare the metastasis contrast's target with the primary contrast's (lines start ``contrasts.<role>``).
    ``contrasts`` are the workflow's contrasts (names only: the direction is not checked)."""
    contrasts = list(contrasts)
    known = [c.name if isinstance(c, Contrast) else str(c) for c in contrasts]
    problems = [f"contrasts.{role}: {short(name)} is not a contrast of the workflow config; set it to one of "
                f"{', '.join(known)}" for name, role in targets.roles.items() if name not in known]
    definitions = {c.name: c for c in contrasts if isinstance(c, Contrast)}
    direct, met, prim = (definitions.get(str(getattr(targets, role))) for role in
                         ("metastasis_vs_primary", "metastasis", "primary"))
    if not problems and direct and met and prim and len({direct.variable, met.variable, prim.variable}) == 1 and \
            (direct.target, direct.reference) != (met.target, prim.target):
        problems.append(f"contrasts.metastasis_vs_primary: {short(direct.name)} compares {short(direct.target)} "
                        f"with {short(direct.reference)}; name the contrast of {short(met.target)} (metastasis' "
                        f"target) vs {short(prim.target)} (primary's target)")
    return problems


def infer_direct(targets: Targets, contrasts: Iterable[Contrast]) -> tuple[Targets, str | None]:
    """``targets`` with ``metastasis_vs_primary`` found among ``contrasts`` when both tumour-vs-normal roles are
    named and it is not, and the deprecation line saying so (None when nothing was inferred)."""
    if not targets.compares or targets.metastasis_vs_primary:
        return targets, None
    name = direct_between(list(contrasts), str(targets.primary), str(targets.metastasis))
    if name is None:
        return targets, None
    return replace(targets, metastasis_vs_primary=name), (
        f"targets contrasts: metastasis_vs_primary is not named, so {short(name)} (found by its levels) is used; "
        f"name it (`metastasis_vs_primary: {name}`): finding it by its levels will be removed")


def load_targets(path: str | Path, contrasts: Iterable[Contrast | str] | None = None,
                 roles: Mapping | None = None, schema_path: str | Path = SCHEMA_PATH) -> Targets:
    """Read, validate and type ``config/targets.yaml``.

    Parameters
    ----------
    path : str or path
        The targets YAML file.
    contrasts : iterable of Contrast or str, optional
        The workflow config's contrasts (or their names); when given, every role must name one of them
        (:func:`contrast_problems`).
    roles : mapping, optional
        The workflow config's ``target_contrasts``: replaces the file's ``contrasts:`` (a role it leaves out is
        not named); its problems are reported under ``config: target_contrasts``.
    schema_path : str or path
        JSON schema (draft 2020-12) to validate against; the shipped ``workflow/schemas/targets.schema.yaml``.

    Returns
    -------
    Targets

    Raises
    ------
    InputError
        One line per problem, each starting with the file (or ``config: target_contrasts``) and naming the key
        (``drugs.crizotinib: missing required key(s) 'targets'``).
    """
    path = Path(path)
    schema = yaml.safe_load(Path(schema_path).read_text())
    try:
        data = load_yaml(path, "targets file")
    except FileNotFoundError as err:
        raise InputError(f"targets file '{path}' does not exist") from err
    except ValueError as err:  # too large, not YAML, an alias bomb: one short line
        raise InputError(str(err)) from err
    problems = [f"targets file '{path}': {p}" for p in targets_problems(data, schema)]
    if roles is not None and not problems:
        data = {**data, "contrasts": {role: roles.get(role) for role in ROLE_KEYS}}
    where = f"targets file '{path}': " if roles is None else "config: target_"  # + "contrasts...": target_contrasts
    if not problems:
        role_lines = role_problems(data["contrasts"]) if roles is not None else []
        targets = parse_targets(data)
        if not role_lines and contrasts is not None:
            role_lines = contrast_problems(targets, contrasts)
        problems = [where + line for line in role_lines]
    if problems:
        raise InputError(problems)
    return targets
