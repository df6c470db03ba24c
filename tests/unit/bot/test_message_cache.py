"""A follow-up re-assesses its thread without reading the earlier messages again."""

from __future__ import annotations

from bot.pipeline.reading import MessageCache
from parsers.limits import Limits
from tests.conftest import FIXTURES


def _thread() -> list[bytes]:
    thread = FIXTURES / "07-ready-telus-followups-supply-loa-and-pin"
    return [p.read_bytes() for p in sorted(thread.glob("*.eml"))]


def test_a_message_already_read_is_not_read_again() -> None:
    cache = MessageCache(Limits())
    first = [cache.read(raw) for raw in _thread()[:2]]
    again = [cache.read(raw) for raw in _thread()]
    assert again[0] is first[0] and again[1] is first[1]
    assert again[2].message.message_id  # the new message is read


def test_the_cache_keeps_within_its_byte_bound() -> None:
    raws = _thread()
    cache = MessageCache(Limits(), max_bytes=max(len(r) for r in raws))
    first = cache.read(raws[0])
    for raw in raws[1:]:
        cache.read(raw)
    assert cache.read(raws[0]) is not first  # evicted, read afresh
