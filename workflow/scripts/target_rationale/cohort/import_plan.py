"""What a config's ``cohort:`` import reads and writes, planned before anything is downloaded or read.

Light on purpose (standard library and yaml only): the Snakefile's parse step imports it to check the config
and to plan the rules ``geo_download`` and ``import_cohort`` (workflow/rules/import.smk), so it must not pull in
requests or pandas. The import itself is :mod:`target_rationale.cohort.importing`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from target_rationale.core.errors import InputError
from target_rationale.paths import result

#: Where downloads are cached unless the config says otherwise (``cohort.cache``).
DEFAULT_CACHE = "resources/geo/cache"
#: The cache folder's record of what was downloaded; written last, so a cache without it is incomplete.
CACHE_MANIFEST = "manifest.yaml"
#: A GEO series accession (``GSE`` + digits, no leading zero).
ACCESSION = re.compile(r"^GSE[1-9]\d*$")


def check_accession(accession: str) -> str:
    """``accession`` stripped and upper-cased, if it is a GEO series id (``GSE`` + digits).

    Raises
    ------
    InputError
        Otherwise (it names the config key and the expected form).
    """
    value = str(accession).strip().upper()
    if not ACCESSION.match(value):
        raise InputError(f"config: cohort.geo = {accession!r} is not a GEO series accession; write it like "
                         "GSE98894")
    return value


def plain(value):
    """``value`` as plain dicts / lists / scalars (Snakemake's config holds its own mapping types)."""
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------------------------------------------
# For the workflow's rules (workflow/rules/import.smk)


#: Keys of a GEO ``cohort:`` entry that the download reads and the import does not (the cache folder reaches the
#: import as its input files' paths).
DOWNLOAD_KEYS = ("base_url", "cache")


@dataclass(frozen=True)
class ImportPlan:
    """What the rules of a ``cohort:`` import read and write, known before anything is downloaded.

    Attributes
    ----------
    spec : dict
        The config's ``cohort:`` entry.
    accession : str or None
        The GEO series, or None for a local folder.
    cache_dir : str or None
        ``<cache>/<GSE>`` for a GEO series.
    inputs : list of str
        Files the import rule reads: the cache's tar and manifest, or the folder's count files / tar and the
        sample sheet or series matrix.
    counts, samples, record : str
        The import's outputs.
    """

    spec: dict
    accession: str | None
    cache_dir: str | None
    inputs: list[str]
    counts: str = result("import_counts")
    samples: str = result("import_samples")
    record: str = result("import_record")

    @property
    def named_inputs(self) -> dict[str, str | list[str]]:
        """The inputs by role, for the rule: ``tar`` and ``manifest`` of the cache, or ``files`` and ``samples``."""
        if self.accession:
            return {"tar": self.inputs[0], "manifest": self.inputs[1]}
        return {"files": self.inputs[:-1], "samples": self.inputs[-1]}

    @property
    def import_spec(self) -> dict:
        """What the import reads of :attr:`spec` (its rule's param and its record): without the keys that only
        say where a GEO series is downloaded from and kept (:data:`DOWNLOAD_KEYS`): the import reads the cached
        files, which reach it as its inputs."""
        return {key: value for key, value in self.spec.items() if key not in DOWNLOAD_KEYS}

    @property
    def is_current(self) -> bool:
        """Whether the outputs exist, from this spec, newer than the inputs (:func:`import_is_current`)."""
        return import_is_current(self.import_spec, [self.counts, self.samples], self.record, self.inputs)


def plan_import(spec: Mapping, resolve=str) -> ImportPlan:
    """The :class:`ImportPlan` of a config's ``cohort:`` entry (config-level checks only; nothing is read).

    Parameters
    ----------
    spec : mapping
        ``{geo, filter?, files?, base_url?, cache?}`` or ``{folder, samples, filter?, files?}``.
    resolve : callable
        Turns a configured input path into the path to use (the workflow looks in the working directory, then
        in its own folder).

    Raises
    ------
    InputError
        A malformed accession, a local folder or sample file that does not exist.
    """
    spec = plain(spec)
    if spec.get("geo"):
        accession = check_accession(spec["geo"])
        cache_dir = f"{str(spec.get('cache') or DEFAULT_CACHE).rstrip('/')}/{accession}"
        inputs = [f"{cache_dir}/{accession}_RAW.tar", f"{cache_dir}/{CACHE_MANIFEST}"]
        return ImportPlan(spec=spec, accession=accession, cache_dir=cache_dir, inputs=inputs)
    folder, samples = resolve(str(spec["folder"])), resolve(str(spec["samples"]))
    problems = []
    if not Path(folder).exists():
        problems.append(f"config: cohort.folder: '{spec['folder']}' does not exist; give a folder of per-sample "
                        "count files or a tar of them (such as a GEO <GSE>_RAW.tar)")
    if not Path(samples).is_file():
        problems.append(f"config: cohort.samples: file '{spec['samples']}' does not exist; give a sample sheet "
                        "(TSV/CSV with a 'sample' column) or a GEO series matrix")
    if problems:
        raise InputError(problems)
    pattern = str(spec.get("files") or "*")
    if Path(folder).is_dir():
        files = sorted(str(p) for p in Path(folder).iterdir()
                       if p.is_file() and not p.name.startswith(".") and fnmatch.fnmatch(p.name, pattern))
    else:
        files = [folder]
    spec = {**spec, "folder": folder, "samples": samples}
    return ImportPlan(spec=spec, accession=None, cache_dir=None, inputs=[*files, samples])


def cohort_config_problems(config: Mapping) -> list[str]:
    """Config-level problems of ``cohort`` with ``counts`` / ``samples`` (run on the config as written)."""
    cohort = config.get("cohort")
    given = [key for key in ("counts", "samples") if key in config]
    if cohort:
        if given:
            return [f"config: `cohort` imports the count matrix and the sample sheet, so "
                    f"{' and '.join(f'`{key}`' for key in given)} must be left out; remove "
                    f"{'them' if len(given) > 1 else 'it'} (or remove `cohort` to read your own files)"]
        return []
    missing = [key for key in ("counts", "samples") if key not in config]
    if missing:
        return [f"config: {' and '.join(repr(m) for m in missing)} missing: give `counts` (a genes x samples "
                "count matrix) and `samples` (a sample sheet), or `cohort` to import a GEO series or a folder of "
                "per-sample count files (config/README.md)"]
    return []


def import_is_current(spec: Mapping, outputs: Iterable[str | Path], record: str | Path,
                      inputs: Iterable[str | Path]) -> bool:
    """Whether an earlier import can be validated now: its files exist, it was made from ``spec`` and it is
    newer than every input (so the rule ``import_cohort`` will not run again).

    Parameters
    ----------
    spec : mapping
        The config's ``cohort:`` entry as the import reads it (:attr:`ImportPlan.import_spec`).
    outputs : iterable of str or Path
        The counts and sample-sheet files the import writes.
    record : str or Path
        Its ``import.yaml`` (written last).
    inputs : iterable of str or Path
        Files the import reads (cache files, or the local folder's files and sheet); absent ones make it stale.
    """
    record = Path(record)
    paths = [Path(p) for p in outputs] + [record]
    if not all(p.is_file() for p in paths):
        return False
    try:
        recorded = yaml.safe_load(record.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(recorded, dict) or recorded.get("spec") != plain(spec):
        return False
    oldest_output = min(p.stat().st_mtime for p in paths)
    for path in map(Path, inputs):
        if not path.exists() or path.stat().st_mtime > oldest_output:
            return False
    return True

