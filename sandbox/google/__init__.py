"""Google Workspace stand-ins under `/google/`: Drive v3, Sheets v4, Gmail v1, Calendar v3, Docs v1,
Slides v1, on the paths googleapiclient and gspread use once their root URL is the sandbox."""

from fastapi import APIRouter

from sandbox.core import System
from sandbox.google import calendar, common, docs, drive, gmail, seed, sheets

_MODULES = (drive, sheets, gmail, calendar, docs)

router = APIRouter()
control = APIRouter()
for _module in _MODULES:
    router.include_router(_module.router)
    if getattr(_module, "control", None) is not None:
        control.include_router(_module.control)

SYSTEM = System(
    name=common.SYSTEM,
    router=router,
    render_error=common.render_error,
    seed=seed.seed,
    quotas=tuple(q for m in _MODULES for q in m.QUOTAS),
    service=common.service,
    control=control,
)
