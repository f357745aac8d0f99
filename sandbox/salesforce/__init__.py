"""Salesforce REST stand-in under `/salesforce/`: the instance URL a client is given is
`http://HOST:PORT/salesforce`, so simple-salesforce's paths land on
`/salesforce/services/data/vNN.N/...` unchanged.

Modules: `schema` (objects and fields), `soql` (the query language), `records` (write
validation), `routes` (the REST API), `control` (the sales team's actions), `seed` (the demo org).
"""

from sandbox.core import System
from sandbox.salesforce import control, routes
from sandbox.salesforce.common import DAILY_REQUESTS, quota_error, render_error
from sandbox.salesforce.common import SYSTEM as NAME
from sandbox.salesforce.pages import pages
from sandbox.salesforce.seed import seed_org

SYSTEM = System(
    name=NAME,
    router=routes.router,
    render_error=render_error,
    seed=seed_org,
    quotas=(DAILY_REQUESTS,),
    quota_error=quota_error,
    control=control.router,
    pages=pages,
)
