"""errors: the AWS errors a user causes, as one line each — no or expired credentials, no
region, access denied, throttling past botocore's retries, an endpoint that does not answer —
so that they end a command with exit 1, never as an internal error."""

from __future__ import annotations

import sys

# AWS error codes a user causes (credentials, permissions, limits), not bugs of ours.
USER_CODES = {
    "ExpiredToken": "the AWS session token has expired: sign in again (e.g. `aws sso login`) and re-run",
    "ExpiredTokenException": "the AWS session token has expired: sign in again (e.g. `aws sso login`) and re-run",
    "InvalidClientTokenId": "AWS does not know these credentials' access key: check AWS_ACCESS_KEY_ID / the profile",
    "UnrecognizedClientException": "AWS does not know these credentials: check AWS_ACCESS_KEY_ID / the profile",
    "SignatureDoesNotMatch": "AWS rejected the credentials' signature: check AWS_SECRET_ACCESS_KEY / the profile",
    "AccessDenied": "AWS refused the call for these credentials",
    "AccessDeniedException": "AWS refused the call for these credentials",
    "UnauthorizedOperation": "AWS refused the call for these credentials",
    "Throttling": "AWS kept throttling the calls after every retry: wait a minute and re-run",
    "ThrottlingException": "AWS kept throttling the calls after every retry: wait a minute and re-run",
    "RequestLimitExceeded": "AWS kept throttling the calls after every retry: wait a minute and re-run",
}


def aws_user_error(exc: BaseException) -> str | None:
    """One line for an AWS error a user causes (no or expired credentials, no region, access
    denied, throttled past the retries, an endpoint that does not answer), else None."""
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is None:
        return None
    if isinstance(exc, botocore.NoCredentialsError):
        return ("no AWS credentials found (looked in the environment, ~/.aws/credentials and config, SSO and the "
                "instance role): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`")
    if isinstance(exc, botocore.PartialCredentialsError):
        return f"incomplete AWS credentials: {exc}"
    if isinstance(exc, (botocore.TokenRetrievalError, botocore.SSOTokenLoadError, botocore.UnauthorizedSSOTokenError)):
        return f"the AWS SSO session cannot be used ({exc}): run `aws sso login` and re-run"
    if isinstance(exc, botocore.NoRegionError):
        return "no AWS region: set AWS_REGION (the stage's region is in generated/<stage>/manifest.json)"
    if isinstance(exc, (botocore.EndpointConnectionError, botocore.ConnectTimeoutError, botocore.ReadTimeoutError)):
        return f"AWS could not be reached ({exc}): check the network, the proxy and --endpoint-url"
    if isinstance(exc, botocore.ClientError):
        error = exc.response.get("Error", {})
        if (what := USER_CODES.get(str(error.get("Code")))) is not None:
            operation = getattr(exc, "operation_name", "the call")
            return f"{what} ({operation}: {error.get('Message', '')})"
    return None
