"""secrets: Secrets Manager secrets (AWS::SecretsManager::Secret) whose values never appear
in a spec.

CloudFormation creates each secret with a random placeholder; the real value is set in
Secrets Manager by an operator (or by the rotation function). Functions read a secret
through `access: {secret:NAME: read}`, which gives them `<NAME>_SECRET_ARN`.
"""

from __future__ import annotations


from typing import Annotated

from pydantic import Field
from troposphere import Ref, awslambda, secretsmanager

from .. import naming
from ..model import Ref as SpecRef
from ..model import RefTo, SpecModel, StageSettings, StatefulSpec
from .base import Attr, Context, Grant, Kind, PhysicalName, Resource


READ = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue")
ROTATE = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")


class Rotation(SpecModel):
    function: Annotated[SpecRef, RefTo("function", why="a secret is rotated by a function")]
    days: int = Field(30, ge=1, le=1000)


class Spec(StatefulSpec):
    description: str | None = Field(None, max_length=2048, description="what the secret holds")
    rotation: Rotation | None = Field(None, description="rotation by a function, and how often")

def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    return [PhysicalName("secret", naming_.physical(name), naming.SECRET)]


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    props: dict[str, object] = {
        "Name": ctx.name(resource),
        "GenerateSecretString": secretsmanager.GenerateSecretString(PasswordLength=32, ExcludePunctuation=True),
        "Tags": ctx.tags(resource),
    }
    if spec.description:
        props["Description"] = spec.description
    if (key := ctx.stage_key()) is not None:
        props["KmsKeyId"] = key
    secret = secretsmanager.Secret(resource.logical_id, **props, **ctx.deletion_policies(resource))
    out: list[object] = [secret]
    if spec.rotation is not None:
        function_arn = ctx.ref(spec.rotation.function, "arn")
        permission = awslambda.Permission(
            resource.logical_id + "RotationInvoke",
            Action="lambda:InvokeFunction",
            FunctionName=function_arn,
            Principal="secretsmanager.amazonaws.com",
            SourceArn=Ref(secret),
        )
        out += [
            permission,
            secretsmanager.RotationSchedule(
                resource.logical_id + "Rotation",
                SecretId=Ref(secret),
                RotationLambdaARN=function_arn,
                RotationRules=secretsmanager.RotationRules(AutomaticallyAfterDays=spec.rotation.days),
                DependsOn=[permission.title],
            ),
        ]
    return out


KIND = Kind(
    section="secrets",
    ref="secret",
    spec=Spec,
    id_suffix="Secret",
    attributes={"arn": Attr(description="secret ARN"), "name": Attr("Name", description="secret name")},
    names=names,
    synthesize=synthesize,
    access={"read": (Grant(READ, key=("kms:Decrypt",)),),
            "rotate": (Grant(READ + ROTATE, key=("kms:Decrypt", "kms:GenerateDataKey")),)},
    encrypts=True,
    env={"SECRET_ARN": "arn"},
)
