"""The OAuth2 statements of ``SqlTx``: codes and tokens (``domain/oauth_grants.py``), and the
merchants an appid is bound to (whose web-authorization domains a redirect_uri must be on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wxpay_local.domain.oauth_grants import Grant, Kind
from wxpay_local.store import rows
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import from_millis

_COLUMNS = (
    "token",
    "kind",
    "appid",
    "payer_id",
    "openid",
    "scope",
    "created_at",
    "expires_at",
    "used_at",
    "pair",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM oauth_grants WHERE token = ?"
_INSERT = (
    f"INSERT INTO oauth_grants ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
)
_UPDATE = "UPDATE oauth_grants SET expires_at = ?, used_at = ?, pair = ? WHERE token = ?"


def _grant(row: Sequence[Any]) -> Grant:
    token, kind, appid, payer_id, openid, scope, created, expires, used, pair = row
    return Grant(
        token=token,
        kind=Kind(kind),
        appid=appid,
        payer_id=int(payer_id),
        openid=openid,
        scope=scope,
        created_at=from_millis(created),
        expires_at=from_millis(expires),
        used_at=rows.dt(used),
        pair=pair,
    )


class OAuthStatements(Statements):
    """One statement family of ``SqlTx``."""

    def insert_oauth_grant(self, grant: Grant) -> None:
        self._exec(
            _INSERT,
            (
                grant.token,
                str(grant.kind),
                grant.appid,
                grant.payer_id,
                grant.openid,
                grant.scope,
                rows.ms(grant.created_at),
                rows.ms(grant.expires_at),
                rows.ms(grant.used_at),
                grant.pair,
            ),
        )

    def oauth_grant(self, token: str, *, lock: bool = False) -> Grant | None:
        row = self._one(_SELECT + ("{lock}" if lock else ""), (token,))
        return None if row is None else _grant(row)

    def update_oauth_grant(self, grant: Grant) -> None:
        self._exec(
            _UPDATE,
            (rows.ms(grant.expires_at), rows.ms(grant.used_at), grant.pair, grant.token),
        )

    def mch_ids_of_app(self, appid: str) -> list[str]:
        found = self._all(
            "SELECT DISTINCT mch_id FROM app_bindings WHERE appid = ? ORDER BY mch_id", (appid,)
        )
        return [str(r[0]) for r in found]
