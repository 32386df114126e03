"""Risk approvals: does a review approve the risky infrastructure change of *this* commit?

The risk gate (`.github/workflows/risk-gate.yml`) fails a pull request whose diff widens
access, replaces, loses data or is blocked, until someone approves that change. The
approval must name the commit it was given for: a label does not (it survives a new push,
and a run queued after the push but started by an older event read the labels of that
event). A GitHub review does: its `commit_id` is the head the reviewer saw.

So the gate reads the pull request and its reviews through the API (never from the event
payload) and passes only when

- the pull request's head is still the commit the gate judged (a run that judged an older
  head, such as a re-run or a queued `labeled` run after a push, decides nothing);
- a reviewer's latest decisive review (approve, request changes, dismissed) is an approval
  of exactly that commit, whose text says `infra-risk-approved`, by someone who may write to
  the repository (owner, member, collaborator) and is not the pull request's author.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

MARKER = "infra-risk-approved"  # what an approving review says to approve the risks too
WRITERS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
DECISIVE = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@dataclass(frozen=True)
class Verdict:
    approved: bool
    reason: str


def decide(pull: dict[str, Any], reviews: Iterable[dict[str, Any]], judged: str) -> Verdict:
    """Whether `reviews` approve the risks of `judged`, the head commit the gate diffed."""
    head = str((pull.get("head") or {}).get("sha") or "")
    if head != judged:
        return Verdict(False, f"the pull request's head is now {head[:12] or 'unknown'}, not {judged[:12]}, the commit "
                              "this run judged: the run for the new head decides")
    author = str((pull.get("user") or {}).get("login") or "").lower()
    latest: dict[str, dict[str, Any]] = {}
    for review in sorted(reviews, key=lambda r: (str(r.get("submitted_at") or ""), int(r.get("id") or 0))):
        login = str((review.get("user") or {}).get("login") or "").lower()
        if login and review.get("state") in DECISIVE:
            latest[login] = review
    for login, review in sorted(latest.items()):
        if (review.get("state") == "APPROVED" and review.get("commit_id") == judged and login != author
                and review.get("author_association") in WRITERS and MARKER in str(review.get("body") or "")):
            return Verdict(True, f"risks of {judged[:12]} approved by {login} (review {review.get('id')})")
    return Verdict(False, f"no approval of {judged[:12]}: a reviewer who may write to the repository (not the author) "
                          f"approves this commit with a review that says '{MARKER}', then re-runs the gate")


def read_reviews(text: str) -> list[dict[str, Any]]:
    """`gh api --paginate .../reviews --jq '.[]'` output (one JSON object per line), or a JSON array."""
    stripped = text.strip()
    if stripped.startswith("["):
        return list(json.loads(stripped))
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]
