"""Policy values the rules judge by; loaded from configuration by `bot.config`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    bill_max_age_days: int = 30
    supported_regions: frozenset[str] = frozenset({"US", "CA"})
    # Carriers whose numbers follow a process of their own (common names).
    own_process_carriers: frozenset[str] = frozenset({"Follow Up Boss"})

    def __post_init__(self) -> None:
        if self.bill_max_age_days < 1:
            raise ValueError("bill_max_age_days must be at least 1")
        if not self.supported_regions:
            raise ValueError("supported_regions must name at least one region")
