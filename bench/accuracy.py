"""Accuracy of the bot's judgement on the independent corpus (fixtures/build/corpus).

    .venv/bin/python bench/accuracy.py [--only FAMILY] [--limit N] [--no-ocr] [--json]
                                       [--dump DIR] [--cli] [--corpus DIR] [--n N] [--seed S]

Each thread is generated (or read from a corpus written with
`python -m fixtures.build.corpus --write DIR`), assessed in-process through
`bot.app.assess_files` exactly as `portbot assess --show-secrets` does (or, with --cli,
through the real command), and compared with the expected assessment the generator
derived from its own truth. Comparisons follow the contract's equality rules (names
folded, accounts without spaces/dashes, addresses normalised part by part); `detail`
is ignored; a problem matches on (code, number).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.build.corpus import DEFAULT_N, DEFAULT_SEED, build  # noqa: E402
from fixtures.build.corpus.norm import account_key, address_parts, fold  # noqa: E402
from fixtures.build.corpus.threads import schedule  # noqa: E402

REQ_FIELDS = [
    "current_carrier",
    "account_number",
    "account_name",
    "service_address",
    "billing_telephone_number",
    "ssn_last4",
    "no_pin_stated",
    "numbers",
    "pins",
    "assignees",
]
BILL_FIELDS = [
    "bill_date",
    "account_name",
    "account_number",
    "service_address",
    "billing_telephone_number",
]


# ------------------------------------------------------------------ assessing


def _assess_inproc(paths: list[Path], today: dt.date) -> dict[str, Any]:
    from bot.cli.assess import assess_files
    from bot.config import load_config
    from rules.contract import to_json

    config = load_config(None)
    out: dict[str, Any] = to_json(assess_files(paths, config, today=today), show_secrets=True)
    # the same JSON rendering as the command (round trip through json)
    return json.loads(json.dumps(out, ensure_ascii=False))  # type: ignore[no-any-return]


def _assess_cli(paths: list[Path], today: dt.date) -> dict[str, Any]:
    cmd = [
        str(ROOT / ".venv" / "bin" / "portbot"),
        "assess",
        "--show-secrets",
        "--today",
        today.isoformat(),
        *map(str, paths),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if r.returncode != 0:
        return {"error": f"exit {r.returncode}: {r.stderr.strip()[:300]}"}
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _job(args: tuple[int, int, bool, bool, str | None]) -> dict[str, Any]:
    """Generate (or read) one thread, assess it; returns what the report needs."""
    i, seed, images, cli, corpus_dir = args
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="acc-") as tmp:
        if corpus_dir:
            d = Path(corpus_dir)
            meta = json.loads((d / "expected.json").read_text())
            paths = sorted(d.glob("*.eml"))
            slug, families = meta["slug"], meta["families"]
            today, expected = dt.date.fromisoformat(meta["today"]), meta["assessment"]
            emls = [p.read_bytes() for p in paths]
        else:
            t = build(i, seed, images)
            slug, families, today, expected, emls = t.slug, t.families, t.today, t.expected, t.emls
            paths = []
            for k, raw in enumerate(emls, start=1):
                p = Path(tmp) / f"{k:02d}.eml"
                p.write_bytes(raw)
                paths.append(p)
        gen_s = time.monotonic() - t0
        t1 = time.monotonic()
        try:
            got = _assess_cli(paths, today) if cli else _assess_inproc(paths, today)
        except Exception as exc:
            got = {"error": f"{type(exc).__name__}: {exc}"}
        ass_s = time.monotonic() - t1
    return {
        "slug": slug,
        "families": families,
        "today": today.isoformat(),
        "expected": expected,
        "got": got,
        "emls": emls,
        "gen_s": gen_s,
        "assess_s": ass_s,
    }


# ------------------------------------------------------------------ comparing


def _addr_eq(a: Any, b: Any) -> bool:
    return address_parts(a) == address_parts(b)


def _req_field(name: str, e: dict[str, Any], g: dict[str, Any]) -> bool:
    if name == "current_carrier":
        return fold(e.get(name)) == fold(g.get(name))
    if name == "account_number":
        return (e.get(name) is None) == (g.get(name) is None) and account_key(
            e.get(name)
        ) == account_key(g.get(name))
    if name == "account_name":
        return (e.get(name) is None) == (g.get(name) is None) and fold(e.get(name)) == fold(
            g.get(name)
        )
    if name == "service_address":
        return (e.get(name) is None) == (g.get(name) is None) and _addr_eq(e.get(name), g.get(name))
    if name in ("billing_telephone_number", "ssn_last4", "no_pin_stated"):
        return e.get(name) == g.get(name)
    en = {n["number"]: n for n in e.get("numbers") or []}
    gn = {n["number"]: n for n in g.get("numbers") or []}
    if name == "numbers":
        return set(en) == set(gn)
    if set(en) != set(gn):
        return False
    if name == "pins":
        return all(en[k]["pin"] == gn[k].get("pin") for k in en)
    return all(
        fold(en[k]["assignee_name"]) == fold(gn[k].get("assignee_name"))
        and (en[k]["assignee_email"] or "").lower() == (gn[k].get("assignee_email") or "").lower()
        for k in en
    )


def _bill_field(name: str, e: dict[str, Any], g: dict[str, Any]) -> bool:
    ev, gv = e.get(name), g.get(name)
    if (ev is None) != (gv is None):
        return False
    if name == "account_name":
        return fold(ev) == fold(gv)
    if name == "account_number":
        return account_key(ev) == account_key(gv)
    if name == "service_address":
        return _addr_eq(ev, gv)
    return bool(ev == gv)


def _probs(a: dict[str, Any]) -> Counter[tuple[str, str | None]]:
    return Counter((p["code"], p.get("number")) for p in a.get("problems") or [])


def compare(r: dict[str, Any]) -> dict[str, Any]:
    e, g = r["expected"], r["got"]
    if "error" in g:
        return {
            "crash": g["error"],
            "exact": False,
            "ready_ok": False,
            "false_ready": False,
            "pe": _probs(e),
            "pg": Counter(),
            "req": dict.fromkeys(REQ_FIELDS, False),
            "bill": {},
            "checklist": {},
        }
    ce, cg = e["checklist"], g.get("checklist", {})
    req = {f: _req_field(f, e["request"], g.get("request", {})) for f in REQ_FIELDS}
    bill: dict[str, list[bool]] = defaultdict(list)
    gdocs = {d["filename"]: d for d in g.get("documents", [])}
    for d in e["documents"]:
        gd = gdocs.get(d["filename"])
        bill["kind"].append(gd is not None and gd.get("kind") == d["kind"])
        if d["kind"] != "bill" or "error" in d["fields"]:
            continue
        gf = (gd or {}).get("fields", {}) if gd and gd.get("kind") == "bill" else {}
        for f in BILL_FIELDS:
            bill[f].append(_bill_field(f, d["fields"], gf))
    return {
        "crash": None,
        "exact": all(ce[k] == cg.get(k) for k in ce),
        "checklist": {k: ce[k] == cg.get(k) for k in ce},
        "ready_ok": e["ready"] == g.get("ready"),
        "false_ready": bool(g.get("ready")) and not e["ready"],
        "pe": _probs(e),
        "pg": _probs(g),
        "req": req,
        "bill": dict(bill),
    }


# ------------------------------------------------------------------ reporting


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}%" if b else "    -"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "  - "


def summarise(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    n = len(rows)
    tp = sum(sum((c["pe"] & c["pg"]).values()) for _, c in rows)
    ne = sum(sum(c["pe"].values()) for _, c in rows)
    ng = sum(sum(c["pg"].values()) for _, c in rows)
    return {
        "threads": n,
        "checklist_exact": sum(c["exact"] for _, c in rows),
        "ready_right": sum(c["ready_ok"] for _, c in rows),
        "false_ready": sum(c["false_ready"] for _, c in rows),
        "not_ready_expected": sum(not r["expected"]["ready"] for r, _ in rows),
        "crashes": sum(bool(c["crash"]) for _, c in rows),
        "problems_tp": tp,
        "problems_expected": ne,
        "problems_got": ng,
    }


def report(
    rows: list[tuple[dict[str, Any], dict[str, Any]]], as_json: bool, timing: dict[str, float]
) -> str:
    overall = summarise(rows)
    fams: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for r, c in rows:
        for f in r["families"]:
            fams[f].append((r, c))
    per_code: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, expected, got
    for _, c in rows:
        for (code, _n), k in c["pe"].items():
            per_code[code][1] += k
        for (code, _n), k in c["pg"].items():
            per_code[code][2] += k
        for (code, _n), k in (c["pe"] & c["pg"]).items():
            per_code[code][0] += k
    req = {f: [sum(c["req"][f] for _, c in rows), len(rows)] for f in REQ_FIELDS}
    bill: dict[str, list[int]] = {}
    for f in ["kind", *BILL_FIELDS]:
        vals = [v for _, c in rows for v in c["bill"].get(f, [])]
        bill[f] = [sum(vals), len(vals)]
    ck: dict[str, list[int]] = {}
    for _, c in rows:
        for k, ok in c["checklist"].items():
            ck.setdefault(k, [0, 0])
            ck[k][0] += ok
            ck[k][1] += 1
    data = {
        "overall": overall,
        "families": {f: summarise(v) for f, v in fams.items()},
        "per_code": per_code,
        "request_fields": req,
        "bill_fields": bill,
        "checklist_keys": ck,
        "timing": timing,
    }
    if as_json:
        return json.dumps(data, indent=2)
    o = overall
    out = [
        f"threads {o['threads']}   crashes {o['crashes']}   "
        f"generate {timing['generate_s']:.0f}s  assess {timing['assess_s']:.0f}s (cpu-s, summed)  wall {timing['wall_s']:.0f}s",
        f"checklist exact  {_pct(o['checklist_exact'], o['threads'])}   ready right {_pct(o['ready_right'], o['threads'])}   "
        f"FALSE READY {o['false_ready']}/{o['not_ready_expected']} not-ready threads",
        f"problems  precision {_ratio(o['problems_tp'], o['problems_got'])}  recall {_ratio(o['problems_tp'], o['problems_expected'])}"
        f"  (matched {o['problems_tp']}, expected {o['problems_expected']}, raised {o['problems_got']})",
        "",
        f"{'family':<16}{'n':>5}{'exact':>8}{'ready':>8}{'falseR':>8}{'prec':>7}{'recall':>8}",
    ]
    for f in sorted(fams, key=lambda k: (-len(fams[k]), k)):
        s = summarise(fams[f])
        out.append(
            f"{f:<16}{s['threads']:>5}{_pct(s['checklist_exact'], s['threads']):>8}{_pct(s['ready_right'], s['threads']):>8}"
            f"{s['false_ready']:>8}{_ratio(s['problems_tp'], s['problems_got']):>7}{_ratio(s['problems_tp'], s['problems_expected']):>8}"
        )
    out += ["", f"{'problem code':<24}{'exp':>5}{'got':>5}{'prec':>7}{'recall':>8}"]
    for code in sorted(per_code):
        tp, ne, ng = per_code[code]
        out.append(f"{code:<24}{ne:>5}{ng:>5}{_ratio(tp, ng):>7}{_ratio(tp, ne):>8}")
    out += [
        "",
        "request field accuracy:   " + "  ".join(f"{f} {_pct(*v).strip()}" for f, v in req.items()),
    ]
    out += [
        "bill field accuracy:      "
        + "  ".join(f"{f} {_pct(*v).strip()} (n={v[1]})" for f, v in bill.items())
    ]
    out += [
        "checklist key accuracy:   " + "  ".join(f"{k} {_pct(*v).strip()}" for k, v in ck.items())
    ]
    return "\n".join(out)


def _diff(r: dict[str, Any], c: dict[str, Any]) -> str:
    e, g = r["expected"], r["got"]
    lines = [r["slug"], "families: " + " ".join(r["families"])]
    if c["crash"]:
        return "\n".join([*lines, "CRASH: " + c["crash"]])
    for k, ok in c["checklist"].items():
        if not ok:
            lines.append(f"checklist.{k}: expected {e['checklist'][k]} got {g['checklist'].get(k)}")
    if e["ready"] != g.get("ready"):
        lines.append(f"ready: expected {e['ready']} got {g.get('ready')}")
    for p in sorted(c["pe"] - c["pg"], key=str):
        lines.append(f"problem MISSED  {p}")
    for p in sorted(c["pg"] - c["pe"], key=str):
        lines.append(f"problem EXTRA   {p}")
    for f, ok in c["req"].items():
        if not ok:
            key = "numbers" if f in ("pins", "assignees") else f
            lines.append(
                f"request.{f}: expected {json.dumps(e['request'].get(key), ensure_ascii=False)[:300]}"
                f"\n{'':>10}got {json.dumps(g.get('request', {}).get(key), ensure_ascii=False)[:300]}"
            )
    gdocs = {d["filename"]: d for d in g.get("documents", [])}
    for d in e["documents"]:
        gd = gdocs.get(d["filename"])
        if (
            gd is None
            or gd.get("kind") != d["kind"]
            or (
                d["kind"] == "bill"
                and any(
                    not _bill_field(f, d["fields"], gd.get("fields", {}))
                    for f in BILL_FIELDS
                    if "error" not in d["fields"]
                )
            )
        ):
            lines.append(
                f"document {d['filename']}: expected {json.dumps({k: d[k] for k in ('kind', 'fields')}, ensure_ascii=False)}"
                f"\n{'':>10}got {json.dumps({k: (gd or {}).get(k) for k in ('kind', 'fields')}, ensure_ascii=False)}"
            )
    return "\n".join(lines)


def dump(dirpath: Path, r: dict[str, Any], c: dict[str, Any]) -> None:
    d = dirpath / r["slug"]
    d.mkdir(parents=True, exist_ok=True)
    for k, raw in enumerate(r["emls"], start=1):
        (d / f"{k:02d}.eml").write_bytes(raw)
    (d / "expected.json").write_text(
        json.dumps({"today": r["today"], "assessment": r["expected"]}, indent=2, ensure_ascii=False)
    )
    (d / "got.json").write_text(json.dumps(r["got"], indent=2, ensure_ascii=False))
    (d / "diff.txt").write_text(_diff(r, c) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--only",
        action="append",
        metavar="FAMILY",
        help="keep threads with this family tag (repeatable: all must match)",
    )
    ap.add_argument("--limit", type=int, help="at most N threads (after --only)")
    ap.add_argument("--no-ocr", action="store_true", help="skip scanned/photographed threads")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--dump", type=Path, metavar="DIR", help="write each failing thread there")
    ap.add_argument("--cli", action="store_true", help="run the real `portbot assess` command")
    ap.add_argument(
        "--corpus", type=Path, metavar="DIR", help="read a corpus written by the generator"
    )
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    only = set(args.only or [])
    jobs: list[tuple[int, int, bool, bool, str | None]] = []
    if args.corpus:
        for d in sorted(p for p in args.corpus.iterdir() if (p / "expected.json").is_file()):
            fams = set(json.loads((d / "expected.json").read_text())["families"])
            if (args.no_ocr and fams & {"scan", "photo"}) or not only <= fams:
                continue
            jobs.append((0, args.seed, True, args.cli, str(d)))
    else:
        for i in range(args.n):
            region, form, _ = schedule(i)
            if args.no_ocr and form != "text":
                continue
            pre = {form, "ca" if region == "qc" else region}
            if (
                only & {"text", "scan", "photo", "us", "ca"}
                and not (only & {"text", "scan", "photo", "us", "ca"}) <= pre
            ):
                continue
            jobs.append((i, args.seed, True, args.cli, None))
    results: list[dict[str, Any]] = []
    start = time.monotonic()
    # fresh workers now and then: the bot measures its own process, and a long-lived
    # worker that also generates images grows past its limits
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=8) as pool:
        for r in pool.imap(_job, jobs, chunksize=1):
            if not only <= set(r["families"]):
                continue
            results.append(r)
            if args.limit and len(results) >= args.limit:
                break
    wall = time.monotonic() - start
    rows = [(r, compare(r)) for r in results]
    timing = {
        "generate_s": sum(r["gen_s"] for r in results),
        "assess_s": sum(r["assess_s"] for r in results),
        "wall_s": wall,
    }
    print(report(rows, args.json, timing))
    if args.dump:
        bad = [
            (r, c)
            for r, c in rows
            if c["crash"] or not c["exact"] or not c["ready_ok"] or c["pe"] != c["pg"]
        ]
        for r, c in bad:
            dump(args.dump, r, c)
        print(f"\n{len(bad)} failing thread(s) written to {args.dump}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
