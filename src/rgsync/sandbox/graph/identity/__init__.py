"""The sign-in side: a Microsoft identity platform (v2.0) authority for one tenant and one app.

Served paths (msal needs https, hence the emulator's TLS):

* `GET /{tenant}/v2.0/.well-known/openid-configuration` (tenant = the tenant id, its domain,
  `organizations` or `common`) and `GET /common/discovery/instance` (instance discovery);
* `POST /{tenant}/oauth2/v2.0/devicecode` and `POST /{tenant}/oauth2/v2.0/token` for the device-code
  grant (polling answers `authorization_pending` until the user signs in), `refresh_token` and
  `client_credentials` (client secret, or a certificate's signed client assertion);
* `GET|POST /devicelogin` where the user "signs in" by entering the code (the emulator can also
  approve by itself after N polls, which the demo relies on).

Errors follow the identity platform's JSON: `{"error": "invalid_grant", "error_description":
"AADSTS…", "error_codes": […], "timestamp", "trace_id", "correlation_id"}`.

The package: `tenant` (the tenant, its user and app, and the tokens it issues and checks) and
`endpoints` (the sign-in HTTP endpoints: discovery, device code, token grants, device login).
"""

from rgsync.sandbox.graph.identity.endpoints import IdentityStore
from rgsync.sandbox.graph.identity.tenant import AccessToken, DeviceCode

__all__ = ["AccessToken", "DeviceCode", "IdentityStore"]
