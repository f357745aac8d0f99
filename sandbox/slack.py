"""Placeholder: the slack stand-in is being built (issue 2)."""

from fastapi import APIRouter

from sandbox.core import System

SYSTEM = System(name="slack", router=APIRouter())
