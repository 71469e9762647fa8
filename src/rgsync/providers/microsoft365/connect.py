"""The sign-in flow of `rgsync connect microsoft365` (SPEC §9), as a plain function.

Two ways in:

* a person (default): msal's device-code flow. The flow tells the user where to go and which
  code to enter (on any device), waits until the sign-in is done, and keeps msal's token cache;
  later runs refresh it silently, so cron never asks anyone;
* an admin running many mailboxes (app-only, with the mailbox address): the app's own credentials
  (client credentials) with a client secret (asked for, or read from an environment variable) or
  a certificate, acting on that mailbox.

Either way the sign-in is checked with one Graph call (the mailbox owner); the result holds the
connection details for `[mailbox]` (provider, address, client-id, tenant-id, endpoints, ca-file)
and the secrets for the credentials store.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rgsync.errors import RgsyncError, UsageError
from rgsync.providers.base import ProviderError
from rgsync.providers.descriptor import ConnectContext, ConnectResult, Option
from rgsync.providers.microsoft365.config import Microsoft365Connection


@dataclass(frozen=True)
class Microsoft365ConnectRequest:
    """What the user asked for; None means "keep the current setting"."""

    client_id: str | None = None
    tenant_id: str | None = None
    address: str | None = None
    app_only: bool = False
    client_secret_from_env: str | None = None
    certificate: Path | None = None
    thumbprint: str | None = None
    authority_url: str | None = None
    graph_url: str | None = None
    ca_file: Path | None = None


OPTIONS = (
    Option(
        "--client-id",
        "client_id",
        "Application (client) id of your Microsoft Entra app registration.",
        metavar="ID",
    ),
    Option(
        "--tenant-id",
        "tenant_id",
        "Directory (tenant) id or domain (default: organizations).",
        metavar="TENANT",
    ),
    Option(
        "--address", "address", "The mailbox address (required with --app-only; else the signed-in user's)."
    ),
    Option(
        "--app-only",
        "app_only",
        "Admins: sign in as the app (client credentials), not as a user.",
        kind="flag",
    ),
    Option(
        "--client-secret-from-env",
        "client_secret_from_env",
        "--app-only: read the client secret from environment variable VAR.",
        metavar="VAR",
    ),
    Option(
        "--certificate",
        "certificate",
        "--app-only: a PEM file with the app certificate's private key (use with --thumbprint).",
        kind="file",
        exists=True,
    ),
    Option(
        "--thumbprint",
        "thumbprint",
        "--app-only: the certificate's SHA-1 thumbprint as registered for the app.",
        metavar="HEX",
    ),
    Option(
        "--authority-url",
        "authority_url",
        "Sign-in authority to use instead of login.microsoftonline.com.",
        metavar="URL",
    ),
    Option(
        "--graph-url",
        "graph_url",
        "Graph root to use instead of https://graph.microsoft.com/v1.0 (a sandbox).",
        metavar="URL",
    ),
    Option("--ca-file", "ca_file", "Extra CA certificates to trust.", kind="file", exists=True),
)


def _check(request: Microsoft365ConnectRequest) -> None:
    """Refuse option combinations that cannot work, one line each, before anything is asked."""
    if not request.app_only and (request.client_secret_from_env or request.certificate or request.thumbprint):
        raise UsageError("--client-secret-from-env, --certificate and --thumbprint go with --app-only")
    if request.app_only and not request.address:
        raise UsageError("--app-only needs --address: the mailbox the app acts on")
    if bool(request.certificate) != bool(request.thumbprint):
        raise UsageError("--certificate and --thumbprint go together")
    for name, url in (("--authority-url", request.authority_url), ("--graph-url", request.graph_url)):
        if url and not url.startswith("https://"):
            raise UsageError(f"{name} must be an https:// URL, not {url!r}")


def _app_credential(request: Microsoft365ConnectRequest, context: ConnectContext) -> str | dict[str, str]:
    """The app's client secret or certificate, from the request, the environment or the user."""
    if request.certificate:
        return {
            "private_key": request.certificate.read_text(encoding="utf-8"),
            "thumbprint": str(request.thumbprint),
        }
    if request.client_secret_from_env:
        secret = os.environ.get(request.client_secret_from_env, "").strip()
        if not secret:
            raise UsageError(f"the environment variable {request.client_secret_from_env} is not set or empty")
        return secret
    return context.interaction.ask_secret("Client secret").strip()


def connect_microsoft365(
    request: Microsoft365ConnectRequest, current: Microsoft365Connection, context: ConnectContext
) -> ConnectResult:
    """Sign in to Microsoft 365 as asked (device code, or app-only) and return what to store (SPEC §9)."""
    from rgsync.providers.microsoft365.auth import (
        CLIENT_CERTIFICATE,
        CLIENT_SECRET,
        TOKEN_CACHE,
        AppTokens,
        DelegatedTokens,
        http_session,
        start_device_sign_in,
    )
    from rgsync.providers.microsoft365.client import GraphClient

    _check(request)
    # Another kind's [mailbox] table says nothing about this app registration.
    base = current if context.same_kind else Microsoft365Connection()
    overrides = {
        "client-id": request.client_id,
        "tenant-id": request.tenant_id,
        "authority-url": request.authority_url,
        "graph-url": request.graph_url,
        "ca-file": str(request.ca_file.absolute()) if request.ca_file else None,
    }
    config = replace(
        base,
        client_id=request.client_id or base.client_id,
        tenant_id=request.tenant_id or base.tenant_id,
        authority_url=request.authority_url or base.authority_url,
        graph_url=request.graph_url or base.graph_url,
        ca_file=overrides["ca-file"] or base.ca_file,
    )
    sign_in = config.sign_in()
    secrets = context.secrets
    address = request.address
    credential: str | dict[str, str] = ""
    try:
        tokens: Any
        if request.app_only:
            credential = _app_credential(request, context)
            tokens = AppTokens(sign_in, credential, http_session(sign_in.ca_file))
            prefix = GraphClient.user_prefix(str(address))
        else:
            started = start_device_sign_in(sign_in, secrets, http_session(sign_in.ca_file))
            context.interaction.tell(started.message)
            username = started.wait(sleep=context.interaction.sleep)
            tokens = DelegatedTokens(
                sign_in, secrets, http_session(sign_in.ca_file), address=address or username
            )
            prefix = "/me"
        client = GraphClient(
            http_session(sign_in.ca_file), tokens, graph_url=config.graph_root, prefix=prefix
        )
        # App-only, the mailbox itself is read (Mail.ReadWrite covers it): reading the user object
        # would need User.Read.All, a permission the sync has no other use for.
        owner = (
            client.call("GET", prefix + "/mailFolders/inbox?$select=id", what="the mailbox") and {}
            if request.app_only
            else client.call("GET", prefix, what="the mailbox owner")
        ) or {}
        client.session.close()
    except ProviderError as exc:
        raise RgsyncError(
            f"could not connect to Microsoft 365: {exc.message}" + (f" ({exc.advice})" if exc.advice else "")
        ) from exc
    mailbox_address = str(owner.get("mail") or owner.get("userPrincipalName") or address or "").lower()
    if address and mailbox_address != address.lower() and not request.app_only:
        raise RgsyncError(
            f"signed in as {mailbox_address}, not {address}: sign in with the right Microsoft account"
        )
    if request.app_only:
        if request.certificate:
            secrets.set(CLIENT_CERTIFICATE, json.dumps(credential))
            secrets.delete(CLIENT_SECRET)
        else:
            secrets.set(CLIENT_SECRET, str(credential))
            secrets.delete(CLIENT_CERTIFICATE)
        secrets.delete(TOKEN_CACHE)
    else:
        # A stored app credential would take precedence over the user's sign-in.
        secrets.delete(CLIENT_SECRET)
        secrets.delete(CLIENT_CERTIFICATE)
    changes: dict[str, object] = {"provider": "microsoft365", "address": mailbox_address}
    changes.update({k: v for k, v in overrides.items() if v})
    how = "as the app (client credentials)" if request.app_only else "with your sign-in (refreshed silently)"
    return ConnectResult(
        section="mailbox",
        settings=changes,
        secrets=dict(secrets.changes),
        report={
            "provider": "microsoft365",
            "address": mailbox_address,
            "sign_in": "app-only" if request.app_only else "user",
            "credentials": secrets.backend_name,
        },
        lines=(
            f"Connected to Microsoft 365 mailbox {mailbox_address} {how}; secrets are kept in {secrets.backend_name}.",
        ),
    )
