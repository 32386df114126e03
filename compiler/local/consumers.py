"""consumers: the stage's SQS event source mappings, run locally as Lambda runs them.

For each `AWS::Lambda::EventSourceMapping` of generated/<stage> with an SQS source: poll the
queue (long polling), hand each batch of up to `BatchSize` messages to the function as an
SQS event, and delete what succeeded — with `ReportBatchItemFailures`, every message except
the `batchItemFailures` the function returned; without, the whole batch or (on an error)
nothing. A message left in the queue returns after its visibility timeout; the queue's
redrive policy (moto models it) moves it to the DLQ after maxReceiveCount receives.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .emulator import function_name, function_targets, relay_queue
from .runtime import FunctionConfig, Invocation, Pool


@dataclass(frozen=True)
class Mapping:
    function: str  # physical name
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool
    concurrency: int
    events: bool = False  # a relay of a bus rule's function target: each message is one EventBridge event


def load_mappings(templates: dict[str, dict[str, Any]], exports: dict[str, str], sqs: Any) -> list[Mapping]:
    found = []
    for template in templates.values():
        resources = template["Resources"]
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Lambda::EventSourceMapping" or props.get("Enabled") is False:
                continue
            source = props["EventSourceArn"]
            if isinstance(source, dict) and "Fn::GetAtt" in source:  # a queue of the same stack
                queue = str(resources[source["Fn::GetAtt"][0]]["Properties"]["QueueName"])
            else:
                arn = exports.get(source["Fn::ImportValue"], "") if isinstance(source, dict) else str(source)
                if ":sqs:" not in arn:
                    continue
                queue = arn.rsplit(":", 1)[-1]
            function = function_name(resources, props["FunctionName"])
            if function is None:
                continue
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            real_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            concurrency = int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 2))
            found.append(Mapping(function, url, real_arn, int(props.get("BatchSize", 10)),
                                 "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []), min(concurrency, 2)))
    return found


def load_relays(templates: dict[str, dict[str, Any]], sqs: Any) -> list[Mapping]:
    """The relay queues that stand in for rules' function targets (local.LocalDeployer)."""
    found = []
    for template in templates.values():
        for rule, target_id, function, _ in function_targets(template):
            try:
                url = sqs.get_queue_url(QueueName=relay_queue(rule, target_id))["QueueUrl"]
            except sqs.exceptions.QueueDoesNotExist:
                continue  # not deployed
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            found.append(Mapping(function, url, arn, 1, False, 1, events=True))
    return found


def sqs_event(messages: list[dict[str, Any]], arn: str, region: str) -> dict[str, Any]:
    """The event Lambda gives a function for a batch of SQS messages."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": {k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                                  "dataType": v.get("DataType")} for k, v in m.get("MessageAttributes", {}).items()},
        "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    } for m in messages]}


@dataclass
class Consumer:
    mapping: Mapping
    function: Callable[[], FunctionConfig]
    pool: Pool
    sqs: Any
    region: str
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run, daemon=True, name=f"consumer-{self.mapping.function}-{i}")
                   for i in range(self.mapping.concurrency)]
        for thread in threads:
            thread.start()
        return threads

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - a consumer keeps polling, as Lambda's poller does
                print(f"consumer {self.mapping.function}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                self.stop.wait(1)

    def poll(self) -> None:
        received = self.sqs.receive_message(QueueUrl=self.mapping.queue_url, MaxNumberOfMessages=self.mapping.batch_size,
                                            WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            return
        if self.mapping.events:
            self.deliver(messages)
            return
        try:
            result = self.pool.invoke(self.function(), sqs_event(messages, self.mapping.queue_arn, self.region))
        except Invocation as failed:
            print(f"consumer {self.mapping.function}: {failed.kind}: {failed}; the batch returns to the queue",
                  file=sys.stderr, flush=True)
            return
        failed_ids = set()
        if self.mapping.report_failures and isinstance(result, dict):
            failed_ids = {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])


    def deliver(self, messages: list[dict[str, Any]]) -> None:
        """Bus events for a function: invoked one by one (asynchronously on AWS: a failure is
        retried later, here when the message becomes visible again)."""
        for message in messages:
            try:
                self.pool.invoke(self.function(), json.loads(message["Body"]))
            except Invocation as failed:
                print(f"rule target {self.mapping.function}: {failed.kind}: {failed}; retried later", file=sys.stderr, flush=True)
                continue
            self.sqs.delete_message(QueueUrl=self.mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])


def start(templates: dict[str, dict[str, Any]], exports: dict[str, str], sqs: Any, pool: Pool,
          function: Callable[[str], FunctionConfig], region: str) -> list[Consumer]:
    consumers = []
    for mapping in load_mappings(templates, exports, sqs) + load_relays(templates, sqs):
        consumer = Consumer(mapping, lambda name=mapping.function: function(name), pool, sqs, region)  # type: ignore[misc]
        consumer.start()
        consumers.append(consumer)
    return consumers


def describe(consumers: list[Consumer]) -> list[str]:
    return [f"consumer {c.mapping.function} <- " + ("bus rule (local relay)" if c.mapping.events else
                                                     f"{c.mapping.queue_arn.rsplit(':', 1)[-1]} (batch {c.mapping.batch_size})")
            for c in consumers]

