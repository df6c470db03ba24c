"""Writing into the user's configuration file (`portbot zendesk setup --write`).

The file is edited with tomlkit, so its comments, blank lines, key order and quoting
stay as the user wrote them; only the keys of `[zendesk.fields]` change. The new text
is checked by `load_config` before it replaces the file (a new file in the same
folder, renamed over the old one, with the old one's permission bits): a crash or a
refusal leaves the old file as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable, Table

from bot.config import load_config
from bot.errors import ConfigError


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: object  # None when the key was not there
    new: int


def write_field_ids(path: Path, ids: Mapping[str, int]) -> list[FieldChange]:
    """Put `ids` into `path`'s `[zendesk.fields]` (made if missing); the keys that changed.
    Nothing is written when none did."""
    target = path.resolve()  # a symlinked configuration is edited where it lives
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    zendesk = document.get("zendesk")
    if not isinstance(zendesk, Table | InlineTable):
        raise ConfigError(f"{path} has no [zendesk] section (see config.example.toml)")
    fields = zendesk.get("fields")
    if fields is None:
        made = tomlkit.table()
        made.comment("the ids written by `portbot zendesk setup --write`")
        for name, fid in ids.items():
            made[name] = int(fid)
        made.add(tomlkit.nl())
        zendesk.append("fields", made)
        changes = [FieldChange(name, None, int(fid)) for name, fid in ids.items()]
    elif isinstance(fields, Table | InlineTable):
        changes = []
        for name, fid in ids.items():
            old = fields.get(name)
            if old != fid:
                changes.append(FieldChange(name, _plain(old), int(fid)))
                fields[name] = int(fid)
    else:
        raise ConfigError(f"{path}: [zendesk] fields must be a table")
    if not changes:
        return []
    new_text = tomlkit.dumps(document)
    _replace(target, new_text)
    return changes


def _plain(value: object) -> object:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def _replace(target: Path, text: str) -> None:
    mode = target.stat().st_mode & 0o7777
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        load_config(temporary)  # what we would leave behind must still load
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
