"""How well the sorter tells porting requests from the rest of a shared support@.

Three sources, none written for the sorter: the first message of each thread of the
judgement corpus (fixtures/build/corpus: porting requests in many shapes, English and
French), the support@ mix of fixtures/build/corpus/support_mail (questions, pitches,
automatic mail, web-form and one-line porting requests), and the real messages of
../shared/real-mail (none a porting request).

    .venv/bin/python -m bench.sorting [--corpus N] [--mix N] [--show]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # fixtures/ lives beside the packages

from bot.pipeline.reading import MessageCache  # noqa: E402
from bot.pipeline.sorting import MailSorter  # noqa: E402
from fixtures.build.corpus import generate as corpus  # noqa: E402
from fixtures.build.corpus.support_mail import SUPPORT  # noqa: E402
from fixtures.build.corpus.support_mail import generate as mix  # noqa: E402
from parsers.carrier_notice import default_patterns  # noqa: E402
from parsers.errors import ParseError  # noqa: E402
from parsers.limits import Limits  # noqa: E402
from rules.mail_kind import SortPolicy  # noqa: E402
from rules.reply import Ours  # noqa: E402

REAL_MAIL = Path(__file__).resolve().parents[2] / "shared" / "real-mail" / "mail-parser"


def cases(n_corpus: int, n_mix: int, mix_seed: int) -> list[tuple[str, bool, bytes]]:
    """(name, is a porting request, raw)."""
    out = [(t.slug, True, t.emls[0]) for t in corpus(n_corpus, images=False)]
    out += [(m.slug, m.kind == "porting_request", m.raw) for m in mix(n_mix, seed=mix_seed)]
    out += [(p.name, False, p.read_bytes()) for p in sorted(REAL_MAIL.glob("*.eml"))]
    return out


def score(
    n_corpus: int = 120, n_mix: int = 300, show: bool = False, mix_seed: int = 20261204
) -> dict[str, float]:
    cache = MessageCache(Limits())
    sorter = MailSorter(
        cache.email,
        cache.statements,
        SortPolicy(),
        Ours.of(["lofty.com"], [SUPPORT]),
        default_patterns(),
    )
    counts: Counter[str] = Counter()
    for name, wanted, raw in cases(n_corpus, n_mix, mix_seed):
        try:
            verdict = sorter(raw, False)
            got = verdict.is_request
        except ParseError:
            got, verdict = False, None  # not an email: quarantined later, never a ticket
        counts[("t" if got == wanted else "f") + ("p" if got else "n")] += 1
        if show and got != wanted:
            print(
                f"{'MISSED' if wanted else 'FALSE '} {name}: {verdict.summary() if verdict else '-'}"
            )
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    return {
        "messages": tp + fp + fn + tn,
        "porting requests": tp + fn,
        "recall": tp / max(1, tp + fn),
        "precision": tp / max(1, tp + fp),
        "false tickets per 100 other mails": 100 * fp / max(1, fp + tn),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=int, default=120)
    ap.add_argument("--mix", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261204, help="the support@ mix's seed")
    ap.add_argument("--show", action="store_true", help="print each wrong verdict")
    args = ap.parse_args(argv)
    for key, value in score(args.corpus, args.mix, args.show, args.seed).items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
