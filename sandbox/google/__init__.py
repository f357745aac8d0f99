"""Google Workspace stand-ins under `/google/`: Drive v3, Sheets v4, Gmail v1, Calendar v3, Docs v1,
Slides v1, on the paths googleapiclient and gspread use once their root URL is the sandbox."""

from fastapi import APIRouter

from sandbox.core import ApiError, Quota, System
from sandbox.google import calendar, common, docs, drive, gmail, seed, sheets, viewer

_MODULES = (drive, sheets, gmail, calendar, docs, viewer)

router = APIRouter()
control = APIRouter()
for _module in _MODULES:
    router.include_router(_module.router)
    if getattr(_module, "control", None) is not None:
        control.include_router(_module.control)


def _quota_error(quota: Quota, wait: float) -> ApiError:
    """Each Google API throttles in its own words (Calendar with a 403); the rest as Drive does."""
    for module in (sheets, gmail, calendar):
        error = module.quota_error(quota, wait)
        if error is not None:
            return error
    return common.quota_error(quota, wait)


SYSTEM = System(
    name=common.SYSTEM,
    router=router,
    render_error=common.render_error,
    quota_error=_quota_error,
    seed=seed.seed,
    quotas=tuple(q for m in _MODULES for q in m.QUOTAS),
    service=common.service,
    control=control,
)
