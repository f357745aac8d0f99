"""Placeholder: the google stand-in is being built (issue 2)."""

from fastapi import APIRouter

from sandbox.core import System

SYSTEM = System(name="google", router=APIRouter())
