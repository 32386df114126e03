"""The handlers under attack: each class of the security review, reproduced.

Lockout (bypass by spelling, races, a stranger locking a user out), answers that tell
which e-mails exist, malformed input answered with a 500, settings without bound, tokens
that outlive their user, the admin rule, account trees left inconsistent, worker keys built
from unchecked message fields, and the MFA step of a login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import threading
import time
from typing import Any

import boto3
import pytest

from tests.handlers.platform import REGION, Platform, api_event, json_body
from tests.handlers.test_flows import PASSWORD, sign_up_and_login

WRONG = "Wrong-Password-1-Long"


def _login(aws: Platform, email: str, password: str, address: str = "192.0.2.10") -> dict[str, Any]:
    return aws.invoke("auth-login", api_event("POST", "/auth/login", {"email": email, "password": password}, address=address))


def _answer(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], json_body(response)


# ------------------------------------------------------------------------ lockout


@pytest.mark.parametrize("spelling", ["ADA@example.com", " Ada@Example.COM ", "ａｄａ@example.com", "ada@EXAMPLE.com"])
def test_lockout_counts_every_spelling_of_one_identity(aws: Platform, spelling: str) -> None:
    sign_up_and_login(aws)
    for attempt in range(5):
        email = spelling if attempt % 2 else "ada@example.com"
        assert _login(aws, email, WRONG)["statusCode"] == 401
    assert _answer(_login(aws, spelling, PASSWORD))[0] == 423


def test_parallel_guesses_cannot_overtake_the_lockout(aws: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty guesses at once; Cognito's answer is slowed so that every request is inside
    the handler at the same time (the window a check-then-count lockout leaves open)."""
    from moto.dynamodb.models import DynamoDBBackend

    one_at_a_time = threading.Lock()  # DynamoDB applies a conditional update atomically; moto needs the help
    real_update = DynamoDBBackend.update_item

    def atomic_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        with one_at_a_time:
            return real_update(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", atomic_update)
    sign_up_and_login(aws)
    answers: list[int] = []
    inside = threading.Barrier(20, timeout=1.0)
    with aws.running("auth-login") as (_, auth):
        real = auth._cognito

        def slow(operation: str, **params: Any) -> Any:
            try:
                inside.wait()
            except threading.BrokenBarrierError:
                pass
            return real(operation, **params)

        monkeypatch.setattr(auth, "_cognito", slow)
        event = api_event("POST", "/auth/login", {"email": "ada@example.com", "password": WRONG})
        threads = [threading.Thread(target=lambda: answers.append(auth.login(event, None)["statusCode"])) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(answers).count(401) <= 5 and set(answers) <= {401, 423}, answers


def test_a_stranger_cannot_lock_a_user_out_of_their_own_address(aws: Platform) -> None:
    sign_up_and_login(aws)
    for _ in range(5):
        assert _login(aws, "ada@example.com", WRONG, address="203.0.113.66")["statusCode"] == 401
    assert _login(aws, "ada@example.com", PASSWORD, address="203.0.113.66")["statusCode"] == 423
    assert _login(aws, "ada@example.com", PASSWORD, address="198.51.100.7")["statusCode"] == 200


def test_guessing_from_many_addresses_is_capped_for_the_identity(aws: Platform) -> None:
    sign_up_and_login(aws)
    for address in range(10):
        for _ in range(5):
            assert _login(aws, "ada@example.com", WRONG, address=f"203.0.113.{address}")["statusCode"] == 401
    assert _login(aws, "ada@example.com", WRONG, address="203.0.113.200")["statusCode"] == 423


def test_guessing_from_many_addresses_does_not_lock_the_user_out_of_a_known_address_or_device(aws: Platform) -> None:
    """Ten addresses x five guesses reach the identity-wide cap. The user's own address,
    and her device (the trustedDevice token a sign-in answered with) from new addresses,
    still sign in, as often as she likes; her sign-ins do not lift the cap for the guesser,
    and a token no sign-in issued counts for nothing."""
    sign_up_and_login(aws)  # from 192.0.2.10, her usual address
    phone = _answer(aws.invoke("auth-login", api_event("POST", "/auth/login", {
        "email": "ada@example.com", "password": PASSWORD}, address="198.51.100.1")))
    assert phone[0] == 200 and len(phone[1]["trustedDevice"]) >= 32
    for address in range(10):
        for _ in range(5):
            assert _login(aws, "ada@example.com", WRONG, address=f"203.0.113.{address}")["statusCode"] == 401
    assert _login(aws, "ada@example.com", PASSWORD, address="198.51.100.99")["statusCode"] == 423
    for again in range(2):
        assert _login(aws, "ada@example.com", PASSWORD, address="192.0.2.10")["statusCode"] == 200, again
        roaming = _answer(aws.invoke("auth-login", api_event("POST", "/auth/login", {
            "email": "ada@example.com", "password": PASSWORD, "trustedDevice": phone[1]["trustedDevice"]},
            address=f"198.51.100.{50 + again}")))
        assert roaming[0] == 200 and roaming[1]["trustedDevice"] == phone[1]["trustedDevice"], roaming
        assert _login(aws, "ada@example.com", WRONG, address=f"203.0.113.{100 + again}")["statusCode"] == 423
    made_up = aws.invoke("auth-login", api_event("POST", "/auth/login", {
        "email": "ada@example.com", "password": PASSWORD, "trustedDevice": "x" * 43}, address="198.51.100.98"))
    assert made_up["statusCode"] == 423


def test_an_unknown_email_locks_like_a_known_one(aws: Platform) -> None:
    sign_up_and_login(aws)
    for email in ("ada@example.com", "nobody@example.com"):
        answers = [_answer(_login(aws, email, WRONG)) for _ in range(6)]
        assert answers == [(401, answers[0][1])] * 5 + [(423, answers[5][1])]


# ------------------------------------------------------------------------ enumeration


def test_no_answer_tells_whether_an_email_is_registered(aws: Platform) -> None:
    sign_up_and_login(aws)

    def both(function: str, route: str, body: dict[str, Any]) -> None:
        known = _answer(aws.invoke(function, api_event("POST", route, {"email": "ada@example.com", **body})))
        unknown = _answer(aws.invoke(function, api_event("POST", route, {"email": "nobody@example.com", **body})))
        assert known == unknown, (function, known, unknown)

    both("auth-register", "/auth/register", {"password": PASSWORD, "name": "X"})
    both("auth-verify", "/auth/verify", {"code": "000000"})
    both("auth-password-reset", "/auth/password/reset", {})
    both("auth-password-confirm", "/auth/password/confirm", {"code": "000000", "password": PASSWORD})
    both("auth-login", "/auth/login", {"password": WRONG})


def test_mail_sending_routes_are_rate_limited_per_address_and_identity(aws: Platform) -> None:
    answers = [aws.invoke("auth-password-reset", api_event("POST", "/auth/password/reset", {"email": "ada@example.com"}))["statusCode"]
               for _ in range(4)]
    assert answers == [202, 202, 202, 429]  # 3 mails to one address per window
    resets = [aws.invoke("auth-password-reset", api_event("POST", "/auth/password/reset", {"email": f"r{i}@example.com"},
                                                          address="203.0.113.9"))["statusCode"] for i in range(11)]
    assert resets == [202] * 10 + [429]  # 10 per client address per window
    elsewhere = aws.invoke("auth-register", api_event("POST", "/auth/register", {"email": "z@example.com", "password": PASSWORD, "name": "Z"},
                                                      address="198.51.100.1"))
    assert elsewhere["statusCode"] == 202


def test_sign_ups_have_a_smaller_mail_budget_than_existing_users(aws: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-up mail goes to identities nobody confirmed: 3 per client address, and a budget
    for all addresses together; once a distributed flood has spent it, sign-ups wait, and
    an existing user's password reset still gets its mail."""
    sign_up_and_login(aws, "ada@example.com")
    many = [aws.invoke("auth-register", api_event("POST", "/auth/register", {"email": f"u{i}@example.com", "password": PASSWORD, "name": "U"},
                                                   address="203.0.113.5"))["statusCode"] for i in range(4)]
    assert many == [202] * 3 + [429]
    with aws.running("auth-register") as (_, auth):
        monkeypatch.setattr(auth, "MAX_ALL_UNKNOWN_SENDS", 8)  # the stage-wide budget, small enough to spend here
        spread = [auth.register(api_event("POST", "/auth/register", {"email": f"f{i}@example.com", "password": PASSWORD, "name": "F"},
                                          address=f"198.51.100.{i}"), None)["statusCode"] for i in range(8)]
    assert spread == [202] * 4 + [429] * 4  # 1 sign-up above and 3 from 203.0.113.5 spent 4 of the 8
    reset = aws.invoke("auth-password-reset", api_event("POST", "/auth/password/reset", {"email": "ada@example.com"}, address="192.0.2.77"))
    assert reset["statusCode"] == 202


# ------------------------------------------------------------------------ malformed input


def _http_functions(aws: Platform) -> list[str]:
    """Every function behind a route in generated/dev (derived, so new routes are fuzzed too)."""
    names = []
    for template in aws.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Handler"].split(".")[0] in (
                    "auth", "users", "accounts", "health"):
                names.append(resource["Properties"]["FunctionName"].removeprefix(f"listbackup-{aws.stage}-"))
    return sorted(names)


BAD_BODIES: list[tuple[str, bool]] = [
    ("{not json", False),
    ("[1, 2]", False),
    ("\"text\"", False),
    ("{\"a\": NaN}", False),
    ("!!not base64!!", True),
    (base64.b64encode(b"\xff\xfe\xfd").decode(), True),
    ("[" * 5000 + "]" * 5000, False),
    (json.dumps({"a": 1, "pad": "x" * 70_000}), False),
    (json.dumps(dict.fromkeys(["email", "password", "name", "code", "session", "refreshToken", "accountId", "description",
                               "oldPassword", "newPassword", "timezone", "language", "enabled"], 12345)), False),
    (json.dumps(dict.fromkeys(["email", "password", "name", "code", "session", "refreshToken", "accountId", "description",
                               "oldPassword", "newPassword", "timezone", "language", "enabled"], [{"x": None}])), False),
    (json.dumps({"email": "a@b.co", "accountId": "../../etc", "name": "x" * 5000, "code": "1" * 100}), False),
    ('{"theme": 1e400, "n": 100000000000000000000000000000000000000000000000000}', False),
    (json.dumps({"a" * 300: 1}), False),
    (json.dumps({"nested": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": {"m": {"n": {"o": {"p": 1}}}}}}}}}}}}}}}}}), False),
]


def test_no_malformed_request_gets_a_500(aws: Platform) -> None:
    ada = sign_up_and_login(aws)["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ada))
    failures = []
    for name in _http_functions(aws):
        events = [api_event("POST", "/x", raw, claims=ada) | {"isBase64Encoded": encoded} for raw, encoded in BAD_BODIES]
        long_id = {"userId": "u" * 3000, "accountId": "a" * 3000}
        events.append(api_event("GET", "/x", claims=ada, params=long_id))
        events.append(api_event("GET", "/x", claims=ada, params={"userId": "../../x", "accountId": "a/b"}))
        events.append(api_event("GET", "/x", claims=ada, query={"q": "x" * 5000, "next": "!!!"}))
        events.append(api_event("GET", "/x", claims=ada, query={"next": base64.urlsafe_b64encode(b"[1]").decode()}))
        for event in events:
            status = aws.invoke(name, event)["statusCode"]
            if status >= 500:
                failures.append((name, str(event.get("body"))[:60], event.get("pathParameters"), status))
    assert failures == []


def test_settings_are_bounded_in_all_not_per_request(aws: Platform) -> None:
    ada = sign_up_and_login(aws)["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ada))
    answers = []
    for i in range(8):  # each request alone is far under the limit
        put = api_event("PUT", "/users/me/settings", {f"block{i}a": "x" * 1000, f"block{i}b": "x" * 1000}, claims=ada)
        answers.append(aws.invoke("users-update-settings", put)["statusCode"])
    assert answers == [200] * 4 + [400] * 4, answers
    stored = json_body(aws.invoke("users-get-settings", api_event("GET", "/users/me/settings", claims=ada)))
    assert len(json.dumps(stored)) <= 8192
    removed = aws.invoke("users-update-settings", api_event("PUT", "/users/me/settings", {"block0a": None, "block4a": "y"}, claims=ada))
    assert removed["statusCode"] == 200 and "block0a" not in json_body(removed) and json_body(removed)["block4a"] == "y"


# ------------------------------------------------------------------------ revoked tokens


def test_tokens_of_a_deleted_user_stop_working_at_once(aws: Platform) -> None:
    ada = sign_up_and_login(aws)["claims"]
    assert aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ada))["statusCode"] == 201
    deleted = aws.invoke("users-delete", api_event("DELETE", f"/users/{ada['sub']}", claims=ada, params={"userId": ada["sub"]}))
    assert deleted["statusCode"] == 204
    for function, method, path in (("users-get-me", "GET", "/users/me"), ("accounts-list", "GET", "/accounts"),
                                   ("auth-status", "GET", "/auth/status")):
        answer = _answer(aws.invoke(function, api_event(method, path, claims=ada)))
        assert answer[0] == 401 and answer[1]["error"] == "token_revoked", (function, answer)


def test_a_disabled_user_is_shut_out_and_an_enabled_one_comes_back(aws: Platform) -> None:
    bob = sign_up_and_login(aws, "bob@example.com", "Bob")["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=bob))
    admin = {"sub": "user-admin", "cognito:groups": "[Admins]"}
    off = aws.invoke("users-update", api_event("PUT", f"/users/{bob['sub']}", {"enabled": False}, claims=admin, params={"userId": bob["sub"]}))
    assert off["statusCode"] == 200
    assert _answer(aws.invoke("accounts-list", api_event("GET", "/accounts", claims=bob)))[1]["error"] == "token_revoked"
    assert _login(aws, "bob@example.com", PASSWORD)["statusCode"] == 401  # Cognito refuses a disabled user
    on = aws.invoke("users-update", api_event("PUT", f"/users/{bob['sub']}", {"enabled": True}, claims=admin, params={"userId": bob["sub"]}))
    assert on["statusCode"] == 200
    fresh = sign_in_again(aws, "bob@example.com")
    assert aws.invoke("accounts-list", api_event("GET", "/accounts", claims=fresh))["statusCode"] == 200


def sign_in_again(aws: Platform, email: str) -> dict[str, Any]:
    from tests.handlers.platform import jwt_claims

    tokens = json_body(_login(aws, email, PASSWORD))
    return {**jwt_claims(tokens["accessToken"]), **jwt_claims(tokens["idToken"])}


def test_logout_revokes_the_tokens_api_gateway_would_still_accept(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    out = aws.invoke("auth-logout", api_event("POST", "/auth/logout", claims=session["claims"], token=session["accessToken"]))
    assert out["statusCode"] == 200
    assert _answer(aws.invoke("accounts-list", api_event("GET", "/accounts", claims=session["claims"])))[0] == 401
    assert aws.invoke("accounts-list", api_event("GET", "/accounts", claims=sign_in_again(aws, "ada@example.com")))["statusCode"] == 200


# ------------------------------------------------------------------------ one admin rule


def _in_group(aws: Platform, email: str, group: str) -> None:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = next(p["Id"] for p in cognito.list_user_pools(MaxResults=10)["UserPools"] if p["Name"] == "listbackup-dev-main")
    if group not in {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool)["Groups"]}:
        cognito.create_group(UserPoolId=pool, GroupName=group)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=group)


def test_acting_on_another_user_needs_a_higher_rank(aws: Platform) -> None:
    people = {name: sign_up_and_login(aws, f"{name}@example.com", name.title())["claims"] for name in ("root", "admin", "peer", "user")}
    for claims in people.values():
        aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims))
    _in_group(aws, "root@example.com", "SuperAdmins")
    _in_group(aws, "admin@example.com", "Admins")
    _in_group(aws, "peer@example.com", "Admins")
    as_admin = {**people["admin"], "cognito:groups": "[Admins]"}
    as_root = {**people["root"], "cognito:groups": "[SuperAdmins]"}

    def act(actor: dict[str, Any], target: str, method: str = "PUT") -> int:
        sub = people[target]["sub"]
        function, body = ("users-update", {"name": "Renamed"}) if method == "PUT" else ("users-delete", None)
        return int(aws.invoke(function, api_event(method, f"/users/{sub}", body, claims=actor, params={"userId": sub}))["statusCode"])

    assert act(as_admin, "root") == 403 and act(as_admin, "root", "DELETE") == 403  # up: never
    assert act(as_admin, "peer") == 403 and act(as_admin, "peer", "DELETE") == 403  # sideways: never
    assert act(as_admin, "user") == 200  # down
    assert act(as_root, "peer", "DELETE") == 204
    reading = aws.invoke("users-get", api_event("GET", f"/users/{people['root']['sub']}", claims=as_admin,
                                                params={"userId": people["root"]["sub"]}))
    assert reading["statusCode"] == 200  # administrators read everyone


# ------------------------------------------------------------------------ account trees


def _create(aws: Platform, claims: dict[str, Any], name: str, parent: str | None = None) -> str:
    if parent is None:
        created = aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": name}, claims=claims))
    else:
        created = aws.invoke("accounts-create-sub-account", api_event(
            "POST", f"/accounts/{parent}/sub-accounts", {"name": name}, claims=claims, params={"accountId": parent}))
    assert created["statusCode"] == 201, created
    return str(json_body(created)["accountId"])


def _delete(aws: Platform, claims: dict[str, Any], account: str) -> dict[str, Any]:
    return aws.invoke("accounts-delete", api_event("DELETE", f"/accounts/{account}", claims=claims, params={"accountId": account}))


def test_authority_flows_down_the_tree_never_up(aws: Platform) -> None:
    ada = {"sub": "user-ada"}
    bob = {"sub": "user-bob"}
    parent = _create(aws, ada, "Parent")
    boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-user-accounts").put_item(
        Item={"userId": "user-bob", "accountId": parent, "role": "admin"})
    child = _create(aws, bob, "Bob's", parent)  # Bob owns the child, Ada does not belong to it
    assert _delete(aws, bob, parent)["statusCode"] == 403  # the child's owner has no say over the parent
    assert _delete(aws, ada, parent)["statusCode"] == 409  # children first...
    assert _delete(aws, ada, child)["statusCode"] == 204  # ...which the parent's owner may delete
    assert _delete(aws, ada, parent)["statusCode"] == 204


def test_a_sub_account_made_during_its_parents_deletion_is_never_orphaned(aws: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = {"sub": "user-ada"}
    parent = _create(aws, ada, "Parent")
    with aws.running("accounts-delete") as (_, accounts):
        real = accounts._children

        def racing(account_id: str) -> list[dict[str, Any]]:
            found = real(account_id)  # none yet, then a sub-account is created at this instant
            accounts._create("user-ada", {"name": "Late"}, parent=parent)
            return found

        monkeypatch.setattr(accounts, "_children", racing)
        answer = accounts.delete_account(api_event("DELETE", f"/accounts/{parent}", claims=ada, params={"accountId": parent}), None)
    assert answer["statusCode"] == 409
    table = boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-accounts")
    assert table.get_item(Key={"accountId": parent}).get("Item") is not None  # the late child has its parent


# ------------------------------------------------------------------------ workers


@pytest.mark.parametrize("field_name, value", [("jobId", "../../../escape"), ("jobId", "a/b"), ("accountId", "acc/../other"),
                                              ("sourceId", "x\ny"), ("jobId", "")])
def test_a_worker_refuses_ids_that_would_leave_the_accounts_prefix(aws: Platform, field_name: str, value: str) -> None:
    message = {"jobId": "job-1", "accountId": "acc-1", field_name: value}
    result = aws.invoke("sync-worker", {"Records": [{"messageId": "m1", "body": json.dumps(message)}]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="listbackup-dev-data")
    assert listed.get("KeyCount", 0) == 0


# ------------------------------------------------------------------------ MFA at login


def _totp(secret: str) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), as authenticator apps compute it; never in the last
    two seconds of a step (moto accepts the current step only)."""
    if time.time() % 30 > 28:
        time.sleep(2.5)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def test_a_login_with_mfa_is_answered_at_the_challenge_route(aws: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")  # moto then checks the codes
    session = sign_up_and_login(aws)
    claims, token = session["claims"], session["accessToken"]
    secret = json_body(aws.invoke("auth-mfa-setup", api_event("POST", "/auth/mfa/setup", claims=claims, token=token)))["secretCode"]
    verified = aws.invoke("auth-mfa-verify", api_event("POST", "/auth/mfa/verify", {"code": _totp(secret)}, claims=claims, token=token))
    assert verified["statusCode"] == 200, verified

    first = json_body(_login(aws, "ada@example.com", PASSWORD))
    assert first["challenge"] == "SOFTWARE_TOKEN_MFA" and first["session"]
    wrong = aws.invoke("auth-mfa-challenge", api_event("POST", "/auth/mfa/challenge", {
        "email": "ada@example.com", "session": first["session"], "code": "000000"}))
    assert _answer(wrong)[0] == 400
    second = json_body(_login(aws, "ada@example.com", PASSWORD))
    right = aws.invoke("auth-mfa-challenge", api_event("POST", "/auth/mfa/challenge", {
        "email": "ada@example.com", "session": second["session"], "code": _totp(secret)}))
    assert right["statusCode"] == 200 and json_body(right)["accessToken"]
    stale = aws.invoke("auth-mfa-challenge", api_event("POST", "/auth/mfa/challenge", {
        "email": "ada@example.com", "session": "s" * 40, "code": "123456"}))
    assert _answer(stale)[0] == 401


def test_mfa_codes_count_against_the_login_lockout(aws: Platform) -> None:
    sign_up_and_login(aws)
    guesses = [aws.invoke("auth-mfa-challenge", api_event("POST", "/auth/mfa/challenge", {
        "email": "ada@example.com", "session": "s" * 40, "code": f"{n:06d}"}))["statusCode"] for n in range(6)]
    assert guesses == [401] * 5 + [423]


@pytest.mark.parametrize(("function", "route", "extra"), [
    ("auth-verify", "/auth/verify", {}),
    ("auth-password-confirm", "/auth/password/confirm", {"password": PASSWORD}),
])
def test_confirmation_codes_cannot_be_guessed_without_end(aws: Platform, function: str, route: str, extra: dict[str, Any]) -> None:
    sign_up_and_login(aws)  # which tried one sign-up code already
    allowed = 10 - (function == "auth-verify")
    answers = [aws.invoke(function, api_event("POST", route, {"email": "ada@example.com", "code": f"{n:06d}", **extra}))["statusCode"]
               for n in range(allowed + 1)]
    assert 429 not in answers[:allowed] and answers[allowed] == 429  # (moto takes any code for a real user)


# ------------------------------------------------------------------------ the edge cannot be skipped


def test_the_api_serves_only_requests_that_came_through_cloudfront(aws: Platform) -> None:
    from tests.handlers.platform import ORIGIN

    assert ORIGIN.get("value"), "generated/dev: the API distribution sends no origin secret"
    ada = sign_up_and_login(aws)["claims"]
    for function, method, path, claims in (("health", "GET", "/health", None), ("auth-login", "POST", "/auth/login", None),
                                           ("accounts-list", "GET", "/accounts", ada)):
        direct = api_event(method, path, {"email": "ada@example.com", "password": PASSWORD}, claims=claims, via_cloudfront=False)
        assert _answer(aws.invoke(function, direct)) == (403, {"error": "forbidden", "message": "call the API through its domain"})
        forged = direct | {"headers": {**direct["headers"], "x-origin-verify": "guess"}}
        assert aws.invoke(function, forged)["statusCode"] == 403
        through = api_event(method, path, {"email": "ada@example.com", "password": PASSWORD}, claims=claims)
        assert aws.invoke(function, through)["statusCode"] in (200, 201)


def test_a_rotated_origin_secret_keeps_the_old_value_working_until_the_edge_is_redeployed(aws: Platform) -> None:
    from tests.handlers.platform import ORIGIN

    old = ORIGIN["value"]
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId="listbackup-dev-edge-origin", SecretString="new-value-0123")
    assert aws.invoke("health", api_event("GET", "/health"))["statusCode"] == 200  # CloudFront still sends the old one
    fresh = api_event("GET", "/health", via_cloudfront=False)
    fresh["headers"]["x-origin-verify"] = "new-value-0123"
    assert aws.invoke("health", fresh)["statusCode"] == 200 and old != "new-value-0123"


# ------------------------------------------------------------------------ review of 2026-11-29


def test_an_administrators_page_token_is_checked_like_any_input(aws: Platform) -> None:
    """A crafted `next` (any JSON, any key) is a 400, never DynamoDB's error as a 500."""
    admin = {"sub": "user-admin", "cognito:groups": "[Admins]"}
    for raw in (b"[1]", b'{"userId": 5}', b'{"email": "x"}', b'{"userId": "a", "other": "b"}', b'"x"'):
        token = base64.urlsafe_b64encode(raw).decode()
        answer = _answer(aws.invoke("users-list", api_event("GET", "/users", claims=admin, query={"next": token})))
        assert answer[0] == 400 and answer[1]["error"] == "invalid_parameter", (raw, answer)


def test_a_member_of_an_account_sees_only_the_sub_accounts_they_belong_to(aws: Platform) -> None:
    """Ownership flows down the tree; membership does not: a member of the parent must not
    see (names, owners, descriptions of) sub-accounts they do not belong to."""
    ada, bob, cy = {"sub": "user-ada"}, {"sub": "user-bob"}, {"sub": "user-cy"}
    parent = _create(aws, ada, "Parent")
    members = boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-user-accounts")
    members.put_item(Item={"userId": "user-bob", "accountId": parent, "role": "member"})
    members.put_item(Item={"userId": "user-cy", "accountId": parent, "role": "admin"})
    secret = _create(aws, ada, "Secret project", parent)
    shared = _create(aws, ada, "Shared", parent)
    members.put_item(Item={"userId": "user-bob", "accountId": shared, "role": "member"})

    def children(claims: dict[str, Any]) -> list[str]:
        tree = json_body(aws.invoke("accounts-hierarchy", api_event(
            "GET", f"/accounts/{parent}/hierarchy", claims=claims, params={"accountId": parent})))
        return sorted(child["name"] for child in tree["children"])

    assert children(ada) == ["Secret project", "Shared"]  # the owner sees the whole tree below
    assert children(bob) == ["Shared"]
    assert children(cy) == []  # an admin of the parent is not an owner of its sub-accounts
    assert _answer(aws.invoke("accounts-get", api_event(
        "GET", f"/accounts/{secret}", claims=bob, params={"accountId": secret})))[0] == 404


def test_a_password_is_taken_as_typed(aws: Platform) -> None:
    """Spaces around a password are part of it: trimming them would store a password the
    user never typed (other clients of the pool do not trim) and shrink it."""
    spaced = "  " + PASSWORD + "  "
    assert aws.invoke("auth-register", api_event("POST", "/auth/register", {
        "email": "sam@example.com", "password": spaced, "name": "Sam"}))["statusCode"] == 202
    assert aws.invoke("auth-verify", api_event("POST", "/auth/verify", {"email": "sam@example.com", "code": "123456"}))["statusCode"] == 200
    assert _login(aws, "sam@example.com", PASSWORD)["statusCode"] == 401
    assert _login(aws, "sam@example.com", spaced)["statusCode"] == 200


def test_a_password_reset_ends_every_session_of_the_account(aws: Platform) -> None:
    """Resetting a forgotten password is how a user takes an account back: the sessions of
    whoever had it (their tokens, which API Gateway accepts until they expire, and their
    refresh tokens) must end with it."""
    session = sign_up_and_login(aws)
    assert aws.invoke("accounts-list", api_event("GET", "/accounts", claims=session["claims"]))["statusCode"] == 200
    time.sleep(1.1)  # tokens carry whole seconds: the reset is later than the old session
    reset = aws.invoke("auth-password-confirm", api_event("POST", "/auth/password/confirm", {
        "email": "ada@example.com", "code": "123456", "password": "A-New-Passw0rd-Here"}))
    assert reset["statusCode"] == 200, reset
    assert _answer(aws.invoke("accounts-list", api_event("GET", "/accounts", claims=session["claims"])))[1]["error"] == "token_revoked"
    refreshed = aws.invoke("auth-refresh", api_event("POST", "/auth/refresh", {"refreshToken": session["refreshToken"]}))
    assert refreshed["statusCode"] == 401
    fresh = json_body(_login(aws, "ada@example.com", "A-New-Passw0rd-Here"))
    from tests.handlers.platform import jwt_claims
    claims = {**jwt_claims(fresh["accessToken"]), **jwt_claims(fresh["idToken"])}
    assert aws.invoke("accounts-list", api_event("GET", "/accounts", claims=claims))["statusCode"] == 200


def test_nobody_creates_accounts_without_end(aws: Platform) -> None:
    """Account creation is bounded per user: the list of one's accounts must stay answerable."""
    limit = 200  # handlers/accounts.py MAX_MEMBERSHIPS
    members = boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-user-accounts")
    with members.batch_writer() as batch:
        for i in range(limit - 1):
            batch.put_item(Item={"userId": "user-eve", "accountId": f"acct-{i:04d}", "role": "member"})
    eve = {"sub": "user-eve"}
    parent = _create(aws, eve, "The last one")  # the 200th
    for route in ("accounts-create", "accounts-create-sub-account"):
        answer = _answer(aws.invoke(route, api_event("POST", "/accounts", {"name": "One more"}, claims=eve,
                                                     params={"accountId": parent})))
        assert answer[0] == 409 and answer[1]["error"] == "too_many_accounts", (route, answer)
    assert _answer(aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": "Mine"}, claims={"sub": "user-fay"})))[0] == 201


def test_a_user_who_owns_accounts_is_not_deleted_out_from_under_them(aws: Platform) -> None:
    """Authority over an account comes from owning it: deleting its owner would leave it
    (its members, sources and backups) with nobody who may manage or delete it."""
    ada = sign_up_and_login(aws)["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ada))
    account = _create(aws, ada, "Ada's shop")

    def delete_ada() -> tuple[int, Any]:
        return _answer(aws.invoke("users-delete", api_event("DELETE", f"/users/{ada['sub']}", claims=ada,
                                                            params={"userId": ada["sub"]})))

    status, answer = delete_ada()
    assert (status, answer["error"]) == (409, "owns_accounts")
    assert aws.invoke("accounts-list", api_event("GET", "/accounts", claims=ada))["statusCode"] == 200  # still signed in
    assert _delete(aws, ada, account)["statusCode"] == 204
    assert delete_ada()[0] == 204


def test_switching_accounts_never_makes_a_half_user(aws: Platform) -> None:
    """The current account is a field of the caller's profile: before the profile exists,
    switching is refused instead of writing a user item with nothing but that field."""
    cy = {"sub": "user-cy"}
    account = _create(aws, cy, "Cy's")
    switch = api_event("POST", "/accounts/switch", {"accountId": account}, claims=cy)
    status, answer = _answer(aws.invoke("accounts-switch", switch))
    assert (status, answer["error"]) == (409, "no_profile")
    users = boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-users")
    assert "Item" not in users.get_item(Key={"userId": "user-cy"})
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=cy))
    assert _answer(aws.invoke("accounts-switch", switch))[1]["currentAccountId"] == account


def test_a_profile_is_made_from_an_access_token_too(aws: Platform) -> None:
    """API Gateway may pass an access token's claims, which carry no e-mail: the first
    GET /users/me must not write an empty e-mail into the table's e-mail indexes (a 500)."""
    created = aws.invoke("users-get-me", api_event("GET", "/users/me", claims={"sub": "user-dee", "username": "user-dee"}))
    assert created["statusCode"] == 201, created
    assert "email" not in json_body(created)


def test_a_password_change_ends_every_other_session(aws: Platform) -> None:
    """A change, like a reset, takes the account back from whoever else holds a session;
    the caller carries on with the fresh tokens the change answers with."""
    other = sign_up_and_login(aws)  # e.g. a stolen session, or a device left signed in
    mine = json_body(_login(aws, "ada@example.com", PASSWORD))
    from tests.handlers.platform import jwt_claims
    claims = {**jwt_claims(mine["accessToken"]), **jwt_claims(mine["idToken"])}
    time.sleep(1.1)  # tokens carry whole seconds: the change is later than both sessions
    changed = aws.invoke("auth-password-change", api_event("POST", "/auth/password/change", {
        "oldPassword": PASSWORD, "newPassword": "A-New-Passw0rd-Here"}, claims=claims, token=mine["accessToken"]))
    assert changed["statusCode"] == 200, changed
    for stale in (other["claims"], claims):
        assert _answer(aws.invoke("accounts-list", api_event("GET", "/accounts", claims=stale)))[1]["error"] == "token_revoked"
    refreshed = aws.invoke("auth-refresh", api_event("POST", "/auth/refresh", {"refreshToken": other["refreshToken"]}))
    assert refreshed["statusCode"] == 401
    fresh = json_body(changed)
    assert fresh["changed"] is True
    claims = {**jwt_claims(fresh["accessToken"]), **jwt_claims(fresh["idToken"])}
    assert aws.invoke("accounts-list", api_event("GET", "/accounts", claims=claims))["statusCode"] == 200
