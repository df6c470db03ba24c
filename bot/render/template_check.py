"""The check of a `[reply] templates_dir` (run by `portbot doctor` and at start-up).

A folder of overrides is judged as its user would want before a customer sees it:
every file is one the bot uses (else it is ignored, which is said); each template
has its text and HTML twin (else the two parts of one email would say different
things); each template parses, names only placeholders the bot fills in
(`VIEW_KEYS`, `wording.KEY` of a phrase that exists) and includes only templates
that exist; and each kind renders, with every optional part shown and with none, on
a sample reply. `wording.toml` parses, and names keys the bot knows with text values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes

from bot.render.reply_email import (
    TEMPLATE_DIR,
    TEMPLATE_PACKAGE,
    WORDING,
    ReplyTemplates,
    TemplateDirError,
    reply_templates,
)

KINDS = ("incomplete", "ready", "follow_up_boss")  # one email each, text and HTML


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str
    warning: bool = False


def package_templates() -> list[str]:
    folder = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR)
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".txt", ".html")))


def sample_view(kind: str, words: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
    """A reply's view with every list filled (`full`) or every optional part empty:
    the same keys as `reply_email.reply_view` (a test holds them in step)."""
    item = {"ask": "The name on the account.", "why": "Carriers compare names.", "numbers": []}
    return {
        "kind": kind,
        "follow_up": full,
        "greeting": "Hi Dana," if full else "Hello,",
        "received": ["Current carrier: received"] if full else [],
        "resolved": ["The bill is now readable."] if full else [],
        "missing": [{**item, "numbers": ["(206) 555-0100"]}, item] if full else [],
        "problems": (
            [{"title": "Names differ", "lines": ["Acme LLC / Acme"], "fix": "Send", "why": None}]
            if full
            else []
        ),
        "have": (
            [{"label": "Numbers", "value": "2 numbers", "rows": ["(206) 555-0100"]}] if full else []
        ),
        "optional": "The last four digits of the SSN." if full else None,
        "numbers": ["(206) 555-0100", "(206) 555-0101, for Sam"] if full else [],
        "account_name": "Acme Dental LLC" if full else None,
        "carrier": "Verizon" if full else None,
        "wording": {k: v for k, v in words.items() if isinstance(v, str)},
        "support_name": "Porting Team",
        "support_address": "support@example.com",
        "loa_form": full,
    }


VIEW_KEYS = frozenset(sample_view("ready", {}, full=True))


def check_templates(directory: str) -> list[Finding]:
    """What is wrong with `directory` as `[reply] templates_dir`, one finding a line;
    the last says what it overrides when nothing is wrong."""
    folder = Path(directory)
    if not folder.is_dir():
        return [Finding(False, f"[reply] templates_dir {directory} is not a folder")]
    try:
        templates = reply_templates(str(folder))
    except TemplateDirError as exc:
        return [Finding(False, f"[reply] templates_dir: {exc}")]
    known = package_templates()
    findings: list[Finding] = []
    here = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    overrides = [name for name in here if name in known]
    for name in here:
        if name not in known and name != WORDING:
            findings.append(
                Finding(
                    True,
                    f"[reply] templates_dir: {name} is not a file the bot uses and is ignored "
                    f"(it uses {', '.join(known)} and {WORDING})",
                    warning=True,
                )
            )
    stems = sorted({name.rsplit(".", 1)[0] for name in overrides})
    for stem in stems:
        for twin in (f"{stem}.txt", f"{stem}.html"):
            if twin not in overrides:
                findings.append(
                    Finding(
                        False,
                        f"[reply] templates_dir has {stem}.{'html' if twin.endswith('txt') else 'txt'}"
                        f" but not {twin}: override both, or the two parts of the email "
                        "(plain text and HTML) say different things",
                    )
                )
    if (folder / WORDING).is_file():
        findings.extend(_check_wording(folder / WORDING))
    env = templates.environment
    strings = {k for k, v in templates.wording.items() if isinstance(v, str)}
    for name in overrides:
        findings.extend(_check_source(env, folder / name, strings, known))
    if not any(not f.ok for f in findings):
        findings.extend(_trial_renders(templates))
    if not any(not f.ok for f in findings):
        what = ", ".join(overrides + ([WORDING] if (folder / WORDING).is_file() else []))
        findings.append(
            Finding(
                True,
                f"[reply] templates_dir {directory}: "
                + (f"overrides {what}" if what else "overrides nothing (empty)")
                + "; every placeholder known, text and HTML present, each reply renders",
            )
        )
    return findings


def _check_source(
    env: jinja2.Environment, path: Path, strings: set[str], known: list[str]
) -> Iterator[Finding]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield Finding(False, f"[reply] templates_dir: cannot read {path.name}: {exc}")
        return
    try:
        tree = env.parse(source, name=path.name)
    except jinja2.TemplateSyntaxError as exc:
        yield Finding(False, f"[reply] templates_dir: {path.name} line {exc.lineno}: {exc.message}")
        return
    unknown = sorted(meta.find_undeclared_variables(tree) - VIEW_KEYS)
    if unknown:
        yield Finding(
            False,
            f"[reply] templates_dir: {path.name} uses unknown placeholder(s) "
            + ", ".join("{{ " + u + " }}" for u in unknown)
            + "; known: "
            + ", ".join(sorted(VIEW_KEYS)),
        )
    phrases = sorted(
        {
            node.attr
            for node in tree.find_all(nodes.Getattr)
            if isinstance(node.node, nodes.Name)
            and node.node.name == "wording"
            and node.attr not in strings
        }
    )
    if phrases:
        yield Finding(
            False,
            f"[reply] templates_dir: {path.name} uses wording."
            + ", wording.".join(phrases)
            + f", not in {WORDING}; known: "
            + ", ".join(sorted(strings)),
        )
    missing = sorted(
        t for t in meta.find_referenced_templates(tree) if t is not None and t not in known
    )
    if missing:
        yield Finding(
            False,
            f"[reply] templates_dir: {path.name} includes {', '.join(missing)}, "
            "which is no template of the bot's",
        )


def _check_wording(path: Path) -> Iterator[Finding]:
    try:
        given = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        yield Finding(False, f"[reply] templates_dir: {WORDING}: {exc}")
        return
    package = reply_templates().wording
    for key, value in given.items():
        if key not in package:
            yield Finding(
                True, f"[reply] templates_dir: {WORDING} key {key} is not used", warning=True
            )
            continue
        default = package[key]
        if isinstance(default, str) and not isinstance(value, str):
            yield Finding(False, f"[reply] templates_dir: {WORDING} {key} must be text")
        elif isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                yield Finding(False, f"[reply] templates_dir: {WORDING} [{key}] must be a table")
                continue
            for name, entry in value.items():
                if name not in default:
                    yield Finding(
                        True,
                        f"[reply] templates_dir: {WORDING} [{key}.{name}] is not used",
                        warning=True,
                    )
                elif not isinstance(entry, Mapping) or not all(
                    isinstance(v, str) for v in entry.values()
                ):
                    yield Finding(
                        False,
                        f"[reply] templates_dir: {WORDING} [{key}.{name}] must be a table of text",
                    )


def _trial_renders(templates: ReplyTemplates) -> Iterator[Finding]:
    env: jinja2.Environment = templates.environment
    for kind in KINDS:
        for full in (True, False):
            view = sample_view(kind, templates.wording, full=full)
            for suffix in ("txt", "html"):
                try:
                    env.get_template(f"{kind}.{suffix}").render(view)
                except jinja2.TemplateError as exc:
                    where = getattr(exc, "lineno", None)
                    yield Finding(
                        False,
                        f"[reply] templates_dir: {kind}.{suffix} does not render"
                        + (f" (line {where})" if where else "")
                        + f": {exc}",
                    )
                    return
