"""What every Salesforce route shares: the error shape, the daily request allocation and the
`Sforce-Limit-Info` header that reports it."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from starlette.responses import JSONResponse, Response

from sandbox import seed
from sandbox.core import ApiError, Quota, Sandbox

SYSTEM = "salesforce"
# The user the REST API acts as: CreatedById of what psflow creates, and its default owner.
API_USER = "psflow Integration"
API_USER_ID = seed.sfid(seed.USER, 999)


def new_record_id(sb: Sandbox, prefix: str, n: int) -> str:
    """The id of a record this org creates: like a real org's, never another org's (the instance
    part is drawn once per sandbox), so two sandboxes in one test process, sharing psflow's
    memory and a Prefect server's event ids, never hand out the same opportunity id."""
    instance = sb.store.constant("salesforce.instance", lambda: random.randrange(62**3))
    return seed.sfid(prefix, n, seed.base62(instance, 3))


class SalesforceError(ApiError):
    """An ApiError that can name the fields it is about, as Salesforce's errors do."""

    def __init__(
        self, status: int, message: str, code: str, fields: Iterable[str] | None = None
    ) -> None:
        super().__init__(status, message, code)
        self.fields = list(fields) if fields is not None else None


def not_found(message: str = "The requested resource does not exist") -> SalesforceError:
    return SalesforceError(404, message, "NOT_FOUND")


# Codes of the errors the core renders (faults, unknown routes) in Salesforce's own words.
_CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "INVALID_SESSION_ID",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    500: "UNKNOWN_EXCEPTION",
    503: "SERVER_UNAVAILABLE",
}
_SALESFORCE_CODE = re.compile(r"[A-Z][A-Z0-9_]+")


def render_error(err: ApiError) -> Response:
    """Salesforce REST errors: a JSON array of `{"message", "errorCode"[, "fields"]}`."""
    code = err.code or ""
    if code == "invalid":  # the core's request validation: a body that is not what was expected
        code = "JSON_PARSER_ERROR"
    elif not _SALESFORCE_CODE.fullmatch(code):
        code = _CODES_BY_STATUS.get(err.status, "UNKNOWN_EXCEPTION")
    body: dict[str, object] = {"message": err.message, "errorCode": code}
    fields = getattr(err, "fields", None)
    if fields is not None:
        body["fields"] = fields
    return JSONResponse([body], err.status, err.headers)


# Enterprise Edition's total API request allocation is 100,000 per rolling 24 hours plus 1,000
# per Salesforce licence (Developer Limits and Allocations Quick Reference, "API Request Limits
# and Allocations"); the org-wide base is what the sandbox enforces. Every REST call counts.
DAILY_REQUESTS = Quota(
    id="salesforce.daily-api-requests",
    description="total API requests per rolling 24 hours (Enterprise Edition base allocation)",
    limit=100_000,
    window_seconds=24 * 3600,
    applies=lambda method, path: "/services/" in path,
    per_user=False,
)


def quota_error(quota: Quota, wait: float) -> ApiError:
    # Over the allocation Salesforce answers 403 REQUEST_LIMIT_EXCEEDED, with no Retry-After:
    # requests succeed again once the rolling 24-hour count drops below the limit.
    return SalesforceError(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")


def api_usage(sb: Sandbox) -> tuple[int, int]:
    """(requests in the last 24 hours, the allocation), as Sforce-Limit-Info reports them."""
    return sb.quotas.used(DAILY_REQUESTS), sb.quotas.limit(DAILY_REQUESTS)


def limit_info(sb: Sandbox) -> str:
    used, limit = api_usage(sb)
    return f"api-usage={used}/{limit}"
