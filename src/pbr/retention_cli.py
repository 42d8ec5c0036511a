"""The CLI's retention and recovery commands: `pbr purge`, `pbr backup`, `pbr restore`."""

from __future__ import annotations

from pathlib import Path

import click

_db_option = click.option("--db", type=click.Path(path_type=Path), default=Path("pbr.duckdb"), show_default=True,
                          help="The DuckDB store.")


def _say(msg: str) -> None:
    from .cli import out
    out.print(msg, markup=False, highlight=False, soft_wrap=True)


@click.command()
@click.option("--before", "before", required=True, metavar="DATE",
              help="Purge personal data of deliveries whose period ended before this date (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.option("--by", default=None, help="Who is purging (default: $PBR_USER or the login name).")
@_db_option
def purge(before, dry_run, by, db):
    """Delete raw extract rows and identities past a retention date; keep the claim ledger and the
    evidence summaries (ids, lines, counts) auditors need."""
    from .cli import _actor
    from .purge import parse_cutoff, purge as run
    r = run(db, parse_cutoff(before), dry_run=dry_run, actor=_actor(by))
    verb = "would purge" if dry_run else "purged"
    _say(f"{verb} deliveries before {r['before']}: {r['extracts']} extract file(s), {r['raw_rows']} raw rows, "
         f"{r['quarantine_texts']} quarantined row texts, {r['source_keys']} source record keys")


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace an existing backup file.")
@_db_option
def backup(path, overwrite, db):
    """Write a consistent copy of the store to PATH (owner-only), waiting for any running writer."""
    from .backup import backup as run
    r = run(db, path, overwrite=overwrite)
    _say(f"backup written: {r['backup']} (schema version {r['schema_version']}, {r['tables']} tables)")


@click.command()
@click.argument("backup_path", metavar="BACKUP", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Replace an existing store.")
@_db_option
def restore(backup_path, replace, db):
    """Restore the store from BACKUP (an existing store is replaced only with --replace)."""
    from .backup import restore as run
    r = run(backup_path, db, replace=replace)
    _say(f"store restored: {r['store']} (schema version {r['schema_version']})")


def register(group: click.Group) -> None:
    for cmd in (purge, backup, restore):
        group.add_command(cmd)
