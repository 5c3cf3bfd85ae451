"""Provisioning gateways over HTTP (issue 8).

| route                                              | who                                 |
|----------------------------------------------------|-------------------------------------|
| POST /api/v1/gateways/{site}/{gateway}/provision   | DEVICE_WRITERS (tekniker: own site) |
| POST /api/v1/gateways/{site}/{gateway}/revoke      | same                                |
| PATCH /api/v1/gateways/{site}/{gateway}            | same; notes (registers the gateway) |

Provisioning records a new broker account in the registry (only the password's hash)
and answers with the gateway's config and the password, shown this once
(``Cache-Control: no-store``). When the hub knows the broker's files
(``TRYGG_PROVISION_AUTH_DIR``) it writes ``passwd`` and ``acl`` from the registry at
once; Mosquitto reads them on SIGHUP. Otherwise ``trygg mqtt acl`` writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub import access
from hub.auth import Principal, require
from hub.consent.auditing import audit, hub_of, now_of
from hub.mqtt_acl import AclError, GatewayId
from hub.provision import gateway_config
from hub.registry import provisioning as reg
from hub.registry.api import _gateways
from hub.registry.schemas import GatewayOut
from hub.schemas import ErrorOut

router = APIRouter(prefix="/api/v1", tags=["gateways"])
Writer = Annotated[Principal, Depends(require(*access.DEVICE_WRITERS))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}}  # fmt: skip


class ProvisioningSettings(BaseSettings):
    """``TRYGG_PROVISION_AUTH_DIR`` (Mosquitto's passwd/acl folder; unset: the files are
    left to ``trygg mqtt acl``) and the broker as gateways reach it (host, port, TLS, CA)."""

    model_config = SettingsConfigDict(env_prefix="TRYGG_PROVISION_", extra="ignore")

    auth_dir: Path | None = None
    broker_host: str = "localhost"
    broker_port: int = Field(8883, ge=1, le=65535)
    tls: bool = True
    ca_file: str | None = "/etc/trygg/ca.pem"


def install(app: FastAPI, settings: ProvisioningSettings) -> None:
    app.state.provisioning = settings


def _settings(request: Request) -> ProvisioningSettings:
    found = getattr(request.app.state, "provisioning", None)
    # Not installed (tests, embedded use): the defaults, not the environment (settings are
    # read in main(), never per request).
    return found if isinstance(found, ProvisioningSettings) else ProvisioningSettings.model_construct()


class ProvisionIn(BaseModel):
    """Overrides of the hub's defaults for this gateway's config."""

    model_config = ConfigDict(extra="forbid")

    host: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    tls: bool | None = None
    ca_file: Annotated[str, Field(max_length=500)] | None = None


class ProvisionedOut(BaseModel):
    gateway: GatewayOut
    username: str
    password: str = Field(description="shown this once; only its hash is kept")
    config: dict[str, Any] = Field(description="the gateway's YAML config, as JSON")
    broker_files_written: bool


class GatewayPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: Annotated[str, Field(min_length=1, max_length=500)] | None


class RevokedOut(BaseModel):
    gateway: GatewayOut
    broker_files_written: bool


def _allowed(principal: Principal, site: str) -> None:
    # 404 as for a device out of scope: a tekniker of another site learns nothing of this one.
    if not access.can_write_device(principal, site):
        raise HTTPException(404, f"no site {site} in your scope")


async def _view(request: Request, principal: Principal, site: str, gateway: str) -> GatewayOut:
    views = await _gateways(request, principal, site)
    return GatewayOut.of(next(v for v in views if v.record.id == gateway))


@router.post("/gateways/{site}/{gateway}/provision", responses=_ERRORS)
async def provision_gateway(
    site: str, gateway: str, principal: Writer, request: Request, response: Response,
    body: ProvisionIn | None = None,
) -> ProvisionedOut:  # fmt: skip
    """A broker account for the gateway (409 when it has one: revoke it first)."""
    _allowed(principal, site)
    cfg, body = _settings(request), body or ProvisionIn()
    hub, now = hub_of(request), now_of(request)

    def run(store: reg.GatewayStore) -> tuple[reg.Credentials, bool]:
        creds = reg.provision(store, site, gateway, now)
        if cfg.auth_dir is not None:
            reg.write_broker_files(store, cfg.auth_dir)
        return creds, cfg.auth_dir is not None

    creds, written = await _run(hub, run)
    await audit(request, principal, "gateway.provision", None, f"{site}/{gateway}", None)
    response.headers["Cache-Control"] = "no-store"
    config = gateway_config(
        GatewayId(site, gateway), None, host=body.host or cfg.broker_host,
        port=body.port or cfg.broker_port, tls=cfg.tls if body.tls is None else body.tls,
        ca_file=body.ca_file or cfg.ca_file,
    )  # fmt: skip
    return ProvisionedOut(gateway=await _view(request, principal, site, gateway),
                          username=creds.gateway.username, password=creds.password,
                          config=config, broker_files_written=written)  # fmt: skip


@router.post("/gateways/{site}/{gateway}/revoke", responses=_ERRORS)
async def revoke_gateway(site: str, gateway: str, principal: Writer, request: Request,
                         ) -> RevokedOut:  # fmt: skip
    """Remove the gateway's broker account (409 when it has none)."""
    _allowed(principal, site)
    cfg, hub, now = _settings(request), hub_of(request), now_of(request)

    def run(store: reg.GatewayStore) -> bool:
        reg.revoke(store, site, gateway, now)
        if cfg.auth_dir is not None:
            reg.write_broker_files(store, cfg.auth_dir)
        return cfg.auth_dir is not None

    written = await _run(hub, run)
    await audit(request, principal, "gateway.revoke", None, f"{site}/{gateway}", None)
    return RevokedOut(gateway=await _view(request, principal, site, gateway),
                      broker_files_written=written)  # fmt: skip


@router.patch("/gateways/{site}/{gateway}", responses=_ERRORS)
async def patch_gateway(site: str, gateway: str, body: GatewayPatchIn, principal: Writer,
                        request: Request) -> GatewayOut:  # fmt: skip
    """Set the gateway's notes (``null`` clears); a gateway not yet in the registry is
    registered (without credentials)."""
    _allowed(principal, site)
    hub = hub_of(request)

    def run(store: reg.GatewayStore) -> None:
        reg.set_notes(store, site, gateway, body.notes)

    await _run(hub, run)
    return await _view(request, principal, site, gateway)


async def _run(hub: Any, fn: Any) -> Any:
    try:
        return await hub.run_store(fn, hub.store)
    except reg.ProvisionRefused as exc:
        raise HTTPException(409, str(exc)) from exc
    except (AclError, reg.UnknownSite) as exc:
        raise HTTPException(422, str(exc)) from exc
