"""lifecycle: one stack's life on CloudFormation — change sets, waiting, events, rollbacks.

`deploy.Deployer` orchestrates a stage (levels, skipping, cross-region parameters,
artifacts, the review gate); this module knows how CloudFormation moves *one* stack: a
change set is created and described until it settles, executed, and the stack's events are
streamed until it reaches a terminal status; a failure is explained from its events. It
holds no stage knowledge and never decides whether a change may run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
TERMINAL_FAILED = {
    "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED",
}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "does not contain changes")
INTERRUPTED = "INTERRUPTED"  # wait()'s answer after Ctrl-C: the stack carries on without us


@dataclass
class StackResult:
    stack: str
    # "created", "updated", "unchanged", "failed", "skipped", "deleted"; after Ctrl-C,
    # "interrupted" (an operation was under way) or "not started" (nothing was changed)
    status: str
    detail: str = ""


THROTTLING = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException")


def throttled(exc: Exception) -> bool:
    """A ClientError that says "slow down" (after botocore's own retries gave up)."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code") in THROTTLING


def rollback_failed_help(name: str, region: str, resources: list[str]) -> str:
    """What UPDATE_ROLLBACK_FAILED means and the one step that gets the stack out of it."""
    which = f" ({', '.join(resources)})" if resources else ""
    skip = f" [--resources-to-skip {' '.join(resources)}]" if resources else ""
    return (
        f"{name} is in UPDATE_ROLLBACK_FAILED: an update failed and CloudFormation could not roll it back{which}. "
        "No deploy can change the stack until that rollback completes. Fix what blocked it (a resource changed or "
        "deleted outside CloudFormation, a permission, a limit), then run "
        f"`aws cloudformation continue-update-rollback --stack-name {name} --region {region}{skip}` "
        "(a skipped resource is marked rolled back without being changed: check it by hand), wait for "
        "UPDATE_ROLLBACK_COMPLETE, and deploy again."
    )


def summary(label: str, described: dict[str, Any]) -> str:
    """A described change set, one line per resource change, replacements flagged."""
    lines = [f"{label}: change set"]
    for change in described.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replacement = {"True": " [REPLACEMENT]", "Conditional": " [may replace]"}.get(rc.get("Replacement", ""), "")
        lines.append(f"  {rc.get('Action', '?'):<7} {rc.get('LogicalResourceId')} {rc.get('ResourceType')}{replacement}")
    return "\n".join(lines)


@dataclass
class Lifecycle:
    """How one stack moves on CloudFormation, for a given client and stack name."""

    echo: Callable[[str], None] = print
    poll: float = 2.0
    stopping: threading.Event = field(default_factory=threading.Event)  # Ctrl-C: no new operation starts

    def describe(self, cfn: Any, name: str) -> dict[str, Any] | None:
        """The stack, or None if it does not exist (or is only an unexecuted CREATE change set)."""
        try:
            stacks = cfn.describe_stacks(StackName=name)["Stacks"]
        except cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        current = stacks[0]
        return None if current["StackStatus"] == "REVIEW_IN_PROGRESS" else dict(current)

    def create_change_set(self, cfn: Any, name: str, change_set: str, args: dict[str, Any], update: bool,
                          kind: str | None = None) -> dict[str, Any] | None:
        """Create a change set (`kind`: IMPORT, else UPDATE or CREATE by `update`) and wait
        until it is described; None when it holds no changes (then it is already deleted). A
        FAILED set for another reason is returned as is."""
        try:
            cfn.create_change_set(ChangeSetName=change_set, ChangeSetType=kind or ("UPDATE" if update else "CREATE"), **args)
        except cfn.exceptions.ClientError as exc:
            if any(text in str(exc) for text in NO_CHANGES):  # some endpoints refuse instead of failing the set
                return None
            raise
        described = self.wait_change_set(cfn, name, change_set)
        if described["Status"] == "FAILED" and any(text in described.get("StatusReason", "") for text in NO_CHANGES):
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            return None
        return described

    def wait_change_set(self, cfn: Any, name: str, change_set: str) -> dict[str, Any]:
        while True:
            described: dict[str, Any] = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            self.stopping.wait(self.poll)

    def wait(self, cfn: Any, name: str, label: str, deleting: bool = False) -> str:
        """Print the stack's events as they arrive, until it settles; on failure, the causes.
        Returns the terminal status, or INTERRUPTED after Ctrl-C.

        Only the stack's status decides the result. Its events are progress: when reading
        them fails (sustained throttling of DescribeStackEvents, which botocore's retries
        do not outlast), this poll prints nothing and the next one catches up. A throttled
        status read is asked again at the next poll."""
        seen: set[str] = set()
        first = True
        while True:
            try:
                status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            except cfn.exceptions.ClientError as exc:
                if deleting and "does not exist" in str(exc):
                    return "DELETE_COMPLETE"
                if not throttled(exc):
                    raise
                status = "UNKNOWN_IN_PROGRESS"
            events = self._events(cfn, name)
            fresh = [e for e in reversed(events or []) if e["EventId"] not in seen]
            for event in fresh:
                seen.add(event["EventId"])
                if not first:  # the history before this run is not news
                    reason = f" ({event['ResourceStatusReason']})" if event.get("ResourceStatusReason") else ""
                    self.echo(f"  {label}: {event['LogicalResourceId']} {event['ResourceStatus']}{reason}")
            first = first and events is None  # until the history before this run has been read
            if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
                if status in TERMINAL_FAILED:
                    for event in events or []:
                        if event["ResourceStatus"].endswith("FAILED"):
                            self.echo(f"  {label} FAILED: {event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}")
                return str(status)
            if self.stopping.is_set():
                return INTERRUPTED
            time.sleep(self.poll)

    @staticmethod
    def _events(cfn: Any, name: str) -> list[dict[str, Any]] | None:
        """The stack's events, newest first; None when AWS would not answer (progress only)."""
        try:
            return list(cfn.describe_stack_events(StackName=name)["StackEvents"])
        except cfn.exceptions.ClientError:
            return None

    def delete(self, cfn: Any, name: str, label: str) -> str:
        cfn.delete_stack(StackName=name)
        return self.wait(cfn, name, label, deleting=True)

    def interrupted(self, stack: str, cfn: Any, name: str) -> StackResult:
        try:
            status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        except Exception:  # noqa: BLE001 - the report must come out whatever AWS answers now
            status = "unknown"
        carries_on = " (CloudFormation carries on without us)" if status.endswith("_IN_PROGRESS") else ""
        return StackResult(stack, "interrupted", f"{status}{carries_on}")

    @staticmethod
    def failed_resources(cfn: Any, name: str) -> list[str]:
        """Logical ids whose latest event is a failure (the ones the rollback could not restore)."""
        latest: dict[str, str] = {}
        for event in Lifecycle._events(cfn, name) or []:  # newest first; unreadable: the help names none
            latest.setdefault(event["LogicalResourceId"], event["ResourceStatus"])
        return sorted(r for r, status in latest.items() if status.endswith("FAILED") and r != name)

    @staticmethod
    def protect(cfn: Any, name: str, enabled: bool) -> None:
        cfn.update_termination_protection(StackName=name, EnableTerminationProtection=enabled)
