"""queues: every queue has a generated DLQ of its type, SSE, long polling, retention rules."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, template


def test_fifo_queue_and_its_fifo_dlq(tmp_path: Path) -> None:
    spec = "queues:\n  sync:\n    fifo: true\n    content_based_deduplication: true\n    visibility_timeout: 5m\n"
    resources = template(compile_spec(tmp_path, {"q.yaml": spec}), "prod", "q")["Resources"]
    queue, dlq = resources["SyncQueue"], resources["SyncQueueDlq"]
    assert queue["Properties"]["QueueName"] == "listbackup-prod-sync.fifo"
    assert dlq["Properties"]["QueueName"] == "listbackup-prod-sync-dlq.fifo"
    assert queue["Properties"]["FifoQueue"] is True and dlq["Properties"]["FifoQueue"] is True
    assert queue["Properties"]["VisibilityTimeout"] == 300
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    assert queue["Properties"]["ReceiveMessageWaitTimeSeconds"] == 20
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["SyncQueueDlq", "Arn"]},
        "maxReceiveCount": 3,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    assert dlq["Properties"]["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
    assert "listbackup-prod-sync.fifo" in dlq["Properties"]["RedriveAllowPolicy"]["sourceQueueArns"][0]["Fn::Sub"]
    for q in (queue, dlq):
        assert q["Properties"]["SqsManagedSseEnabled"] is True
        assert (q["DeletionPolicy"], q["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_standard_queue_defaults_keep_the_dlq_longer(tmp_path: Path) -> None:
    resources = template(compile_spec(tmp_path, {"q.yaml": "queues:\n  mail: {}\n"}), "dev", "q")["Resources"]
    queue, dlq = resources["MailQueue"]["Properties"], resources["MailQueueDlq"]["Properties"]
    assert "FifoQueue" not in queue and queue["QueueName"] == "listbackup-dev-mail"
    assert queue["MessageRetentionPeriod"] < dlq["MessageRetentionPeriod"] == 14 * 86400


def test_standard_queue_retention_must_be_shorter_than_dlq(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"q.yaml": "queues:\n  mail:\n    retention: 14d\n"})
    assert "spec/q.yaml:3:16: error[E207]: a standard queue's retention (1209600 s) must be shorter than its DLQ's" in out


def test_fifo_options_on_a_standard_queue(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"q.yaml": "queues:\n  mail:\n    content_based_deduplication: true\n"})
    assert "content_based_deduplication applies only to FIFO queues" in out


def test_high_throughput_fifo(tmp_path: Path) -> None:
    spec = "queues:\n  q:\n    fifo: true\n    high_throughput: true\n"
    props = template(compile_spec(tmp_path, {"q.yaml": spec}), "dev", "q")["Resources"]["QQueue"]["Properties"]
    assert props["DeduplicationScope"] == "messageGroup"
    assert props["FifoThroughputLimit"] == "perMessageGroupId"


def test_unencrypted_queue_needs_a_reason(tmp_path: Path) -> None:
    assert "'encrypted: false' turns off" in errors_of(tmp_path, {"q.yaml": "queues:\n  q: {encrypted: false}\n"})
