"""The tekniker's pages at /tekniker/ and the login code the pages share at /common/.

Static files only: every datum comes through the API with the caller's token
(``hub.attention_api`` and the device registry routes), so a role that may not read
the data gets the API's 403 on the page, not a page with the data left out.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def mount_pages(app: FastAPI) -> None:
    web = resources.files("hub") / "web"
    app.mount("/common", StaticFiles(directory=str(web / "common")), name="common")
    app.mount("/tekniker", StaticFiles(directory=str(web / "tekniker"), html=True),
              name="tekniker")
