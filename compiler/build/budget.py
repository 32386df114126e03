"""budget: each stage's reserved Lambda concurrency against its share of the account's quota.

Lambda keeps 100 of an account's concurrency quota unreserved; the stages that share an
account (platform.yaml `accounts:`, all of them when it names none) split the rest, each
with its `concurrency.budget`. A stage whose functions reserve more than its budget fails
to compile (E215); this module words that error with what a user needs to act on it: the
quota the budgets imply, what every stage of the account reserves, and the smallest change
that fits (lower the default reservation, give it budget another stage does not use, or ask
AWS for more), and it tells `platformc new service` how much budget is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..model import StageSettings
from ..spec.stage import StageSpec
from .resolve import Resolved

UNRESERVED = 100  # what Lambda keeps unreserved of every account's quota
QUOTA_CODE = "L-B99A9384"  # Service Quotas: AWS Lambda "Concurrent executions"


@dataclass(frozen=True)
class Usage:
    stage: str
    reserved: int  # what its functions reserve in all
    budget: int
    defaults: int  # functions reserving the stage's default
    default: int | None  # the default (`concurrency.reserved`)

    @property
    def left(self) -> int:
        return self.budget - self.reserved


def usage(spec: StageSpec) -> Usage:
    return _usage(spec.stage, spec.settings, [d.spec for stack in spec.stacks for d in stack.resources
                                              if d.kind.section == "functions"])


def resolved_usage(resolved: Resolved) -> Usage:
    return _usage(resolved.stage, resolved.settings, [r.spec for r in resolved.index.values() if r.kind.section == "functions"])


def _usage(stage: str, settings: StageSettings, functions: list[Any]) -> Usage:
    reserved = [f.reserved(settings) for f in functions]
    return Usage(stage, sum(r for r in reserved if r), settings.concurrency.budget,
                 sum(1 for f in functions if f.reserved_concurrency is None), settings.concurrency.reserved)


def sharing(specs: Mapping[str, StageSpec], stage: str) -> list[str]:
    """The stages in the same account as `stage` (all, when platform.yaml names no accounts)."""
    accounts = specs[stage].platform.accounts
    mine = accounts.get(stage)
    return [s for s in specs if mine is None or accounts.get(s) in (None, mine)]


def explain(specs: Mapping[str, StageSpec], stage: str) -> tuple[str, str]:
    """(message, help) of E215 for `stage`: the implied quota, every stage's reservations in
    that account, and the smallest changes that fit."""
    stages = [usage(specs[s]) for s in sharing(specs, stage)]
    this = next(u for u in stages if u.stage == stage)
    quota = UNRESERVED + sum(u.budget for u in stages)
    over = this.reserved - this.budget
    each = ", ".join(f"{u.stage} {u.reserved} of {u.budget}" for u in stages)
    message = (f"the functions of stage {stage} reserve {this.reserved} concurrent executions, {over} over its budget of "
               f"{this.budget}. The account's quota these budgets assume is {quota} ({UNRESERVED} kept unreserved by Lambda "
               f"+ {' + '.join(str(u.budget) for u in stages)}); reserved now: {each}")
    fits = []
    if this.default is not None and this.defaults:
        lower = -(-over // this.defaults)  # ceiling: each default function gives up as much
        if this.default - lower >= 1:
            fits.append(f"lower stage {stage}'s `concurrency.reserved` from {this.default} to {this.default - lower} "
                        f"({this.defaults} function(s) use it: frees {lower * this.defaults})")
    spare = sorted((u for u in stages if u.stage != stage and u.left >= over), key=lambda u: -u.left)
    if spare:
        donor = spare[0]
        fits.append(f"move {over} of budget from stage {donor.stage} (it uses {donor.reserved} of {donor.budget}): "
                    f"budget {donor.budget - over} there, {this.budget + over} here")
    fits.append(f"ask AWS to raise the account's Lambda concurrency quota to at least {quota + over} (Service Quotas, "
                f"code {QUOTA_CODE}), then raise stage {stage}'s budget to {this.reserved}")
    return message, "smallest changes that fit: " + "; or ".join(fits)
