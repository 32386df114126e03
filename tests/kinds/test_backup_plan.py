"""backup_plans and bucket replication: the DR pieces."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, template

PLAN = """\
tables:
  t: {hash_key: id:S}
backup_plans:
  daily:
    retention_days: 30
    enabled: false
    stages:
      prod: {enabled: true}
"""


def test_backup_plan_selects_the_stage_by_tags(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"db.yaml": PLAN})
    assert not [k for k in template(result, "dev", "db")["Resources"] if "Backup" in k]
    resources = template(result, "prod", "db")["Resources"]
    rule = resources["DailyBackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"][0]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)" and rule["Lifecycle"] == {"DeleteAfterDays": 30}
    assert rule["TargetBackupVault"] == {"Ref": "DailyBackupPlanVault"}
    vault = resources["DailyBackupPlanVault"]
    assert vault["Properties"]["BackupVaultName"] == "listbackup-prod-daily" and vault["DeletionPolicy"] == "Retain"
    selection = resources["DailyBackupPlanSelection"]["Properties"]["BackupSelection"]
    assert selection["Conditions"]["StringEquals"] == [
        {"ConditionKey": "aws:ResourceTag/Service", "ConditionValue": "listbackup"},
        {"ConditionKey": "aws:ResourceTag/Stage", "ConditionValue": "prod"},
    ]
    role = resources["DailyBackupPlanRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}


REPLICATION = {
    "dr.yaml": "region: us-east-1\nbuckets:\n  replica: {}\n",
    "s3.yaml": "buckets:\n  data:\n    stages:\n      prod: {replicate_to: bucket:replica}\n",
}


def test_replication_to_the_dr_region(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, REPLICATION)
    assert "ReplicationConfiguration" not in template(result, "dev", "s3")["Resources"]["DataBucket"]["Properties"]
    prod = template(result, "prod", "s3")
    rule = prod["Resources"]["DataBucket"]["Properties"]["ReplicationConfiguration"]["Rules"][0]
    assert rule["Destination"] == {"Bucket": {"Ref": "FromDrReplicaBucketArn"}, "StorageClass": "STANDARD_IA"}
    statements = prod["Resources"]["DataBucketReplicationRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    write = next(s for s in statements if s["Sid"] == "WriteReplica")
    assert write["Resource"] == [{"Fn::Join": ["", [{"Ref": "FromDrReplicaBucketArn"}, "/*"]]}]
    assert "Fn::ImportValue" not in str(prod)


def test_replication_needs_versioning_and_sse_s3(tmp_path: Path) -> None:
    files = {**REPLICATION, "dr.yaml": "region: us-east-1\nbuckets:\n  replica: {versioning: false, reasons: {versioning: a test of the replication rule}}\n"}
    assert "replication needs versioning on both buckets" in errors_of(tmp_path, files)
    files = {**REPLICATION, "s3.yaml": REPLICATION["s3.yaml"].replace("buckets:\n  data:\n", "buckets:\n  data:\n    encryption: kms\n")}
    assert "use `encryption: s3`" in errors_of(tmp_path, files)


def test_intelligent_tiering(tmp_path: Path) -> None:
    spec = "buckets:\n  b: {intelligent_tiering: {archive_after_days: 90, deep_archive_after_days: 180}}\n"
    props = template(compile_spec(tmp_path, {"s3.yaml": spec}), "dev", "s3")["Resources"]["BBucket"]["Properties"]
    assert props["IntelligentTieringConfigurations"] == [
        {"Id": "archive-tiers", "Status": "Enabled", "Tierings": [
            {"AccessTier": "ARCHIVE_ACCESS", "Days": 90}, {"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": 180},
        ]}
    ]


def test_a_bucket_cannot_replicate_to_itself(tmp_path: Path) -> None:
    files = {"s3.yaml": "buckets:\n  data:\n    replicate_to: bucket:data\n"}
    assert "s3.yaml:3:19: error[E308]: a bucket cannot replicate to itself" in errors_of(tmp_path, files)
