"""The data tier as an AWS CDK app: the peer `make bench` times our data-tier compile against.

Run with the bench's own CDK virtualenv (tests/bench/cdk.py):
`python tests/bench/cdk_data_tier.py SPEC_DIR OUT_DIR`. It reads the same spec files our
compile reads (infrastructure/dynamodb.yaml, s3.yaml, sqs.yaml), so it grows with them, and
declares what our templates hold for dev with CDK's L2 constructs, one stack per file:

- tables: keys, global indexes (all attributes projected), TTL, streams, on-demand billing,
  point-in-time recovery, the AWS-managed key, the physical name;
- buckets: versioning, S3-managed encryption, public access blocked, TLS only, lifecycle rules
  (transitions, noncurrent transitions, expiry, aborted uploads), intelligent tiering, access
  logs to the access-logs bucket;
- queues: FIFO with content-based deduplication, retention, visibility, long polling, tags,
  SQS-managed encryption, and a dead-letter queue with the receive count.

Not byte for byte what we emit (CDK adds its own metadata and parameters): the same resources
and the settings that matter, which is what a team porting the tier to CDK would write.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import yaml
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

SERVICE, STAGE = "listbackup", "dev"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any) -> int:
    match = re.fullmatch(r"(\d+)([smhd])", str(value))
    return int(match.group(1)) * UNITS[match.group(2)] if match else int(value)


def name(resource: str) -> str:
    return f"{SERVICE}-{STAGE}-{resource}"


def attribute(key: str) -> ddb.Attribute:
    attr, kind = key.split(":")
    return ddb.Attribute(name=attr, type={"S": ddb.AttributeType.STRING, "N": ddb.AttributeType.NUMBER,
                                          "B": ddb.AttributeType.BINARY}[kind])


def tables(stack: cdk.Stack, spec: dict[str, Any]) -> None:
    streams = {"new_and_old_images": ddb.StreamViewType.NEW_AND_OLD_IMAGES, "new_image": ddb.StreamViewType.NEW_IMAGE,
               "old_image": ddb.StreamViewType.OLD_IMAGE, "keys_only": ddb.StreamViewType.KEYS_ONLY}
    for table_name, body in (spec.get("tables") or {}).items():
        body = body or {}
        table = ddb.Table(
            stack, f"{table_name}-table", table_name=name(table_name), partition_key=attribute(body["hash_key"]),
            sort_key=attribute(body["range_key"]) if body.get("range_key") else None,
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST, encryption=ddb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            time_to_live_attribute=body.get("ttl"), stream=streams.get(body.get("stream", "")),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        for index, keys in (body.get("indexes") or {}).items():
            table.add_global_secondary_index(
                index_name=index, partition_key=attribute(keys["hash_key"]),
                sort_key=attribute(keys["range_key"]) if keys.get("range_key") else None,
                projection_type=ddb.ProjectionType.ALL)


def buckets(stack: cdk.Stack, spec: dict[str, Any]) -> None:
    declared = spec.get("buckets") or {}
    logs = None
    if "access-logs" in declared:
        logs = s3.Bucket(stack, "access-logs-bucket", bucket_name=name("access-logs"), versioned=False,
                         encryption=s3.BucketEncryption.S3_MANAGED, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                         enforce_ssl=True, object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
                         lifecycle_rules=rules(declared["access-logs"].get("lifecycle") or {}))
    for bucket_name, body in declared.items():
        if bucket_name == "access-logs":
            continue
        body = body or {}
        tiering = body.get("intelligent_tiering")
        s3.Bucket(
            stack, f"{bucket_name}-bucket", bucket_name=name(bucket_name), versioned=body.get("versioning", True),
            encryption=s3.BucketEncryption.S3_MANAGED, block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            lifecycle_rules=rules(body.get("lifecycle") or {}),
            intelligent_tiering_configurations=[s3.IntelligentTieringConfiguration(
                name="tiering", archive_access_tier_time=cdk.Duration.days(tiering["archive_after_days"]),
                deep_archive_access_tier_time=cdk.Duration.days(tiering["deep_archive_after_days"]))] if tiering else None,
            server_access_logs_bucket=logs if body.get("access_logs", True) else None,
            server_access_logs_prefix=f"{bucket_name}/" if logs is not None and body.get("access_logs", True) else None,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )


def rules(lifecycle: dict[str, Any]) -> list[s3.LifecycleRule]:
    classes = {"INTELLIGENT_TIERING": s3.StorageClass.INTELLIGENT_TIERING, "STANDARD_IA": s3.StorageClass.INFREQUENT_ACCESS,
               "GLACIER": s3.StorageClass.GLACIER, "DEEP_ARCHIVE": s3.StorageClass.DEEP_ARCHIVE,
               "ONEZONE_IA": s3.StorageClass.ONE_ZONE_INFREQUENT_ACCESS, "GLACIER_IR": s3.StorageClass.GLACIER_INSTANT_RETRIEVAL}
    made = []
    for rule_id, rule in lifecycle.items():
        made.append(s3.LifecycleRule(
            id=rule_id, prefix=rule.get("prefix"),
            transitions=[s3.Transition(storage_class=classes[t["storage_class"]], transition_after=cdk.Duration.days(t["after_days"]))
                         for t in rule.get("transitions", [])] or None,
            noncurrent_version_transitions=[s3.NoncurrentVersionTransition(
                storage_class=classes[t["storage_class"]], transition_after=cdk.Duration.days(t["after_days"]))
                for t in rule.get("noncurrent_transitions", [])] or None,
            expiration=cdk.Duration.days(rule["expire_after_days"]) if rule.get("expire_after_days") else None,
            noncurrent_version_expiration=(cdk.Duration.days(rule["noncurrent_expire_after_days"])
                                           if rule.get("noncurrent_expire_after_days") else None),
            abort_incomplete_multipart_upload_after=(cdk.Duration.days(rule["abort_incomplete_uploads_after_days"])
                                                     if rule.get("abort_incomplete_uploads_after_days") else None),
        ))
    return made


def queues(stack: cdk.Stack, spec: dict[str, Any]) -> None:
    defaults = (spec.get("defaults") or {}).get("queues") or {}
    for queue_name, body in (spec.get("queues") or {}).items():
        body = {**defaults, **(body or {})}
        fifo = bool(body.get("fifo"))
        suffix = ".fifo" if fifo else ""
        dlq = sqs.Queue(stack, f"{queue_name}-dlq", queue_name=name(f"{queue_name}-dlq") + suffix, fifo=fifo or None,
                        retention_period=cdk.Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED)
        queue = sqs.Queue(
            stack, f"{queue_name}-queue", queue_name=name(queue_name) + suffix, fifo=fifo or None,
            content_based_deduplication=body.get("content_based_deduplication") if fifo else None,
            retention_period=cdk.Duration.seconds(seconds(body.get("retention", "4d"))),
            visibility_timeout=cdk.Duration.seconds(seconds(body.get("visibility_timeout", "30s"))),
            receive_message_wait_time=cdk.Duration.seconds(seconds(body.get("receive_wait", "0s"))),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=int(body.get("max_receives", 3))),
        )
        for key, value in (body.get("tags") or {}).items():
            cdk.Tags.of(queue).add(key, str(value))


def main() -> None:
    spec, out = Path(sys.argv[1]), Path(sys.argv[2])
    app = cdk.App(outdir=str(out))
    for file, build in (("dynamodb", tables), ("s3", buckets), ("sqs", queues)):
        path = spec / "infrastructure" / f"{file}.yaml"
        if path.exists():
            stack = cdk.Stack(app, f"infrastructure-{file}", stack_name=f"{SERVICE}-{STAGE}-infrastructure-{file}")
            cdk.Tags.of(stack).add("Service", SERVICE)
            cdk.Tags.of(stack).add("Stage", STAGE)
            build(stack, yaml.safe_load(path.read_text()) or {})
    app.synth()


if __name__ == "__main__":
    main()
