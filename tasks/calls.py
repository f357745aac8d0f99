"""How every task calls an outside system: one error vocabulary and one retry policy.

Each client library raises its own exceptions. `calling(system, what)` turns them into two kinds:
- `TransientError` (429, 5xx, dropped connections, timeouts): Prefect retries the task with
  exponential backoff and jitter; a `Retry-After` is honoured by waiting it out before the retry
  (in `retry_transient_only`).
- `PermanentError` (400, 401, 403, 404, 409, 422, validation): no retry; the message names the
  system, the object and the answer, so the person looking at the failed run knows what to fix.
"""

from __future__ import annotations

import functools
import http.client
import logging
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import httpx
from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import exponential_backoff

# Longest Retry-After psflow waits before a retry; beyond it Prefect's backoff takes over, so a
# worker slot is not held for minutes.
MAX_RETRY_AFTER_SECONDS = 60.0
# What a 429 that does not say how long to wait (Salesforce's client keeps no headers) is taken to
# ask: at least the first backoff, never less
DEFAULT_RETRY_AFTER_SECONDS = 1.0
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


P = ParamSpec("P")
R = TypeVar("R")


class OutsideError(Exception):
    """An outside system refused or failed a call."""

    def __init__(self, system: str, what: str, detail: str, status: int | None = None) -> None:
        self.system, self.what, self.detail, self.status = system, what, detail, status
        super().__init__(f"{system}: {what}: {detail}")


class TransientError(OutsideError):
    """Worth retrying: the system is busy, throttling or unreachable for now."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class PermanentError(OutsideError):
    """Retrying the same call cannot help; a person must fix the cause first."""


def retry_transient_only(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """`retry_condition_fn` for every task that calls out: retry TransientError, nothing else.

    When the system said how long to wait (Retry-After), wait that long here, before Prefect's own
    backoff delay starts: the retry then never comes back early.
    """
    try:
        state.result()
    except TransientError as error:
        if error.retry_after:
            time.sleep(min(error.retry_after, MAX_RETRY_AFTER_SECONDS))
        return True
    except Exception:
        return False
    return False


_RETRIES: dict[str, Any] = {
    "retries": 4,
    "retry_delay_seconds": exponential_backoff(backoff_factor=1),  # 1, 2, 4, 8 s
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient_only,
}


def outside_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that writes to an outside system: transient failures retried with backoff, nothing
    else; its result persisted, so a resumed or retried flow run does not redo a write it made
    with the same inputs. (Within one flow run only: a new run looks everything up again in the
    systems themselves.)

    `name` says what it does to which object, its parameters filled in ("copy {kind}" -> "copy
    cost estimate"): the task run's name in the UI. The run logs one line of what it did.
    """

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return task(**_RETRIES, persist_result=True, task_run_name=_run_name(name))(_told(fn))

    return decorate


def read_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that reads an outside system (`get_...`, `find_...`): never answered from a run's
    results. What it reads may have changed since an earlier attempt (a person fixed the field a
    failed run named, moved the dates while an approval waited) or since an earlier step of the
    same run (a find, a copy, the same find again): a retried or resumed run reads the world as it
    is now. `name` as for `outside_task`."""

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return task(
            **_RETRIES, cache_policy=NO_CACHE, persist_result=False, task_run_name=_run_name(name)
        )(_told(fn))

    return decorate


def _run_name(template: str) -> Callable[[], str]:
    """The task run's name: `template` with the run's parameters, each as a person reads it."""

    def name() -> str:
        from prefect.runtime import task_run

        values = {key: _words(value) for key, value in task_run.parameters.items()}
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError):  # a name must never fail its task
            return template

    return name


def _words(value: Any) -> str:
    """A parameter as a run's name shows it: a kind in the handbook's words, a list
    joined, anything long cut short."""
    if isinstance(value, StrEnum):
        text = value.value.replace("-", " ")
    elif isinstance(value, list | tuple):
        text = ", ".join(_words(item) for item in value)
    elif isinstance(value, Mapping):  # what it is about: its keys
        text = ", ".join(_words(key) for key in value)
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _told(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, saying in the run's log what it found or did (one line, with the link)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result = fn(*args, **kwargs)
        if (line := outcome(result)) is not None:
            _logger().info("%s", line)
        return result

    return run


def outcome(result: Any) -> str | None:
    """One line of what a task's result says it did, or None when it says nothing."""
    from engagement.refs import Ref

    if isinstance(result, Ref):
        verb = "Created" if result.created else "Found"
        return f"{verb} {result.kind} {result.name!r}: {result.url or 'no link'}"
    if isinstance(result, bool):
        return "Written" if result else "Already as wanted: nothing written"
    if isinstance(result, int):
        return f"{result} written" if result else "Already as wanted: nothing written"
    return None


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:  # called as `.fn`, outside a run
        return logging.getLogger(__name__)


@contextmanager
def calling(system: str, what: str) -> Iterator[None]:
    """Classify whatever the client library raises inside the block.

    >>> with calling("GitLab", "project ps-customers/acme"):
    ...     pass
    """
    try:
        yield
    except OutsideError:
        raise
    except Exception as exc:
        error = classify(exc, system, what)
        if error is None:
            raise
        raise error from exc


def classify(exc: Exception, system: str, what: str) -> OutsideError | None:
    """The OutsideError for a client library's exception; None for anything else (a bug)."""
    status, detail, retry_after = _status_of(exc)
    if status is None:
        if isinstance(exc, _network_errors()):
            return TransientError(system, what, f"no answer ({type(exc).__name__}: {exc})")
        return None
    answer = (
        f"{detail} (Slack's error, HTTP 200)"
        if _slack_ok_false(exc)
        else f"HTTP {status}: {detail}"
    )
    if status in TRANSIENT_STATUSES:
        if status == 429 and retry_after is None:  # throttled without a word of how long
            retry_after = DEFAULT_RETRY_AFTER_SECONDS
        return TransientError(system, what, answer, status, retry_after=retry_after)
    return PermanentError(system, what, answer, status)


def _slack_ok_false(exc: Exception) -> bool:
    """Slack answers its errors with HTTP 200 and `ok: false`: the message says so, not a status
    Slack never sent."""
    import slack_sdk.errors

    return isinstance(exc, slack_sdk.errors.SlackApiError) and exc.response.status_code == 200


def _network_errors() -> tuple[type[BaseException], ...]:
    # The client libraries are imported on the first error, not with every flow module: a run
    # imports only the libraries of the systems it calls (see blocks/).
    import httplib2
    import requests
    from google.auth.exceptions import TransportError

    return (
        ConnectionError,  # includes ConnectionResetError, ConnectionRefusedError, BrokenPipeError
        TimeoutError,
        socket.timeout,
        http.client.HTTPException,  # RemoteDisconnected, IncompleteRead
        httplib2.HttpLib2Error,
        requests.ConnectionError,
        requests.Timeout,
        httpx.TransportError,
        TransportError,
    )


_GOOGLE_RATE_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded"}


def _retry_after(headers: Any) -> float | None:
    # httplib2 (Google's client) keeps header names lowercased; the others keep them as sent
    value = None if headers is None else headers.get("Retry-After", headers.get("retry-after"))
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_of(exc: Exception) -> tuple[int | None, str, float | None]:
    """(HTTP status, the system's own words, Retry-After) from any client library's error."""
    import gitlab.exceptions
    import gspread.exceptions
    import simple_salesforce.exceptions
    import slack_sdk.errors
    from google.auth.exceptions import RefreshError
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status = exc.status_code
        reasons = {d.get("reason") for d in exc.error_details or [] if isinstance(d, dict)}
        if status == 403 and reasons & _GOOGLE_RATE_LIMITS:
            status = 429  # Calendar and Drive throttle with a 403
        return status, exc.reason or "", _retry_after(exc.resp)
    if isinstance(exc, gspread.exceptions.APIError):
        response = exc.response
        return (
            response.status_code,
            str(exc.error.get("message", exc)),
            _retry_after(response.headers),
        )
    if isinstance(exc, simple_salesforce.exceptions.SalesforceError):
        return exc.status, _salesforce_detail(exc.content), None
    if isinstance(exc, gitlab.exceptions.GitlabError) and exc.response_code:
        return exc.response_code, str(exc.error_message), None
    if isinstance(exc, slack_sdk.errors.SlackApiError):
        response = exc.response
        error = str(response.get("error", "unknown_error"))
        status = response.status_code if response.status_code != 200 else _slack_status(error)
        return status, error, _retry_after(response.headers)
    if isinstance(exc, httpx.HTTPStatusError):
        answer = exc.response
        return answer.status_code, answer.text[:500], _retry_after(answer.headers)
    if isinstance(exc, RefreshError):
        return 401, "credentials were refused (google-auth could not refresh them)", None
    return None, str(exc), None


def _salesforce_detail(content: Any) -> str:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in content)
    return str(content)[:500]


def _slack_status(error: str) -> int:
    """Slack answers errors with HTTP 200; a few codes are really transient."""
    return (
        503
        if error
        in {
            "ratelimited",
            "service_unavailable",
            "internal_error",
            "fatal_error",
            "request_timeout",
        }
        else 400
    )
