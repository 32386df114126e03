"""buckets: private, encrypted, versioned, TLS-only, multipart uploads cleaned up."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, template


def _resources(tmp_path: Path, spec: str, stage: str = "dev") -> dict:
    return template(compile_spec(tmp_path, {"b.yaml": spec}), stage, "b")["Resources"]


def test_safe_defaults(tmp_path: Path) -> None:
    resources = _resources(tmp_path, "buckets:\n  data: {}\n", "prod")
    bucket = resources["DataBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == "listbackup-prod-data"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert props["LifecycleConfiguration"]["Rules"] == [
        {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}, "Id": "abort-incomplete-uploads", "Status": "Enabled"}
    ]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    statement = resources["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:*"],
            "Resource": [{"Fn::GetAtt": ["DataBucket", "Arn"]}, {"Fn::Sub": "${DataBucket.Arn}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": False}},
        }
    ]


def test_kms_and_lifecycle(tmp_path: Path) -> None:
    spec = """\
buckets:
  data:
    encryption: kms
    lifecycle:
      tiering:
        prefix: backups/
        transitions: [{after_days: 30, storage_class: STANDARD_IA}, {after_days: 90, storage_class: GLACIER}]
        noncurrent_expire_after_days: 730
"""
    props = _resources(tmp_path, spec)["DataBucket"]["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule == {"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Prefix"] == "backups/"
    assert [t["StorageClass"] for t in lifecycle["Transitions"]] == ["STANDARD_IA", "GLACIER"]
    assert lifecycle["NoncurrentVersionExpiration"] == {"NoncurrentDays": 730}


def test_public_read_needs_a_reason_and_keeps_acls_blocked(tmp_path: Path) -> None:
    assert "'public: \"read\"' turns off a safe default" in errors_of(tmp_path, {"b.yaml": "buckets:\n  site: {public: read}\n"})
    spec = "buckets:\n  site:\n    public: read\n    reasons: {public: a static marketing site with no private data}\n"
    resources = _resources(tmp_path, spec)
    block = resources["SiteBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "BlockPublicPolicy": False, "IgnorePublicAcls": True, "RestrictPublicBuckets": False}
    sids = [s["Sid"] for s in resources["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]]
    assert sids == ["DenyInsecureTransport", "PublicRead"]


def test_lifecycle_checks(tmp_path: Path) -> None:
    spec = """\
buckets:
  b:
    lifecycle:
      r:
        transitions: [{after_days: 10, storage_class: STANDARD_IA}, {after_days: 5, storage_class: GLACIER}]
        expire_after_days: 3
"""
    out = errors_of(tmp_path, {"b.yaml": spec})
    assert "S3 moves objects to STANDARD_IA after 30 days at the earliest" in out
    assert "transitions must be in increasing order of days" in out
    assert "expiry (3 d) must come after the last transition (5 d)" in out
