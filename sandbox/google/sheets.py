"""Placeholder: being built (issue 2)."""

from fastapi import APIRouter

from sandbox.core import Quota

router = APIRouter()
control: APIRouter | None = None
QUOTAS: tuple[Quota, ...] = ()
