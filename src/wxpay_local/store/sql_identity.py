"""Merchants, apps and their bindings (cached per process: ``store.identity``), payers,
their openids and cards, and merchant certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wxpay_local.domain.ledger import wallet
from wxpay_local.domain.model import App, Card, Merchant, MerchantCert, Payer
from wxpay_local.domain.ports import PayerProfile
from wxpay_local.store import rows
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import from_millis, to_millis

_MERCHANT_BY_MCH_ID = f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants WHERE mch_id = ? AND env = ?"


class IdentityStatements(Statements):
    """One statement family of ``SqlTx``."""

    # merchants and apps -------------------------------------------------------------------
    def merchant(self, mch_id: str, env: str) -> Merchant | None:
        cache = self._cache
        if cache is not None:
            hit = cache.merchant((mch_id, env))
            if hit is not None:
                return hit
        return self.merchant_uncached(mch_id, env)

    def merchant_uncached(self, mch_id: str, env: str) -> Merchant | None:
        """The merchant as the database has it now (and cached again)."""
        cache = self._cache
        token = None if cache is None else cache.token()
        row = self._one(_MERCHANT_BY_MCH_ID, (mch_id, env))
        if row is None:
            return None
        merchant = rows.merchant_from_row(row)
        if cache is not None:
            cache.put_merchant((mch_id, env), merchant, token)
        return merchant

    def merchant_by_id(self, merchant_id: int) -> Merchant:
        row = self._one(
            f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants WHERE id = ?", (merchant_id,)
        )
        return rows.merchant_from_row(row)

    def merchants(self) -> list[Merchant]:
        found = self._all(f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants ORDER BY id")
        return [rows.merchant_from_row(r) for r in found]

    def insert_merchant(
        self,
        mch_id: str,
        env: str,
        name: str,
        api_key: str,
        fee_rate_ppm: int,
        console_password: str,
    ) -> Merchant:
        row = self._one(
            "INSERT INTO merchants (mch_id, env, name, api_key, fee_rate_ppm, console_password,"
            f" created_at) VALUES (?, ?, ?, ?, ?, ?, 0) RETURNING {rows.MERCHANT_COLUMNS}",
            (mch_id, env, name, api_key, fee_rate_ppm, console_password),
        )
        return rows.merchant_from_row(row)

    def update_merchant_key(self, merchant_id: int, api_key: str) -> None:
        self._exec("UPDATE merchants SET api_key = ? WHERE id = ?", (api_key, merchant_id))

    def app(self, appid: str) -> App | None:
        row = self._one("SELECT appid, kind, secret, name FROM apps WHERE appid = ?", (appid,))
        return None if row is None else rows.app_from_row(row)

    def insert_app(self, app: App) -> None:
        self._exec(
            "INSERT INTO apps (appid, kind, secret, name) VALUES (?, ?, ?, ?)",
            (app.appid, str(app.kind), app.secret, app.name),
        )

    def bind_app(self, mch_id: str, appid: str) -> None:
        self._exec(
            "INSERT INTO app_bindings (mch_id, appid) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (mch_id, appid),
        )

    def is_bound(self, mch_id: str, appid: str) -> bool:
        cache = self._cache
        if cache is not None and cache.bound((mch_id, appid)):
            return True
        token = None if cache is None else cache.token()
        found = self._one(
            "SELECT 1 FROM app_bindings WHERE mch_id = ? AND appid = ?", (mch_id, appid)
        )
        if found is None:
            return False
        if cache is not None:
            cache.put_bound((mch_id, appid), token)
        return True

    def merchant_page(self, env: str, limit: int, after_id: int | None = None) -> list[Merchant]:
        """A page of one environment's merchants in creation order (keyset on id)."""
        sql = f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants WHERE env = ?"
        params: list[Any] = [env]
        if after_id is not None:
            sql += " AND id > ?"
            params.append(after_id)
        found = self._all(sql + " ORDER BY id LIMIT ?", [*params, limit])
        return [rows.merchant_from_row(r) for r in found]

    def apps_of_merchants(self, mch_ids: Sequence[str]) -> dict[str, list[App]]:
        """``apps_of`` for several merchants in one statement."""
        found: dict[str, list[App]] = {m: [] for m in mch_ids}
        if not mch_ids:
            return found
        marks = ", ".join("?" for _ in mch_ids)
        for r in self._all(
            "SELECT b.mch_id, a.appid, a.kind, a.secret, a.name FROM apps a JOIN app_bindings b"
            f" ON a.appid = b.appid WHERE b.mch_id IN ({marks}) ORDER BY a.kind, a.appid",
            list(mch_ids),
        ):
            found[r[0]].append(rows.app_from_row(r[1:]))
        return found

    def apps_of(self, mch_id: str) -> list[App]:
        found = self._all(
            "SELECT a.appid, a.kind, a.secret, a.name FROM apps a JOIN app_bindings b"
            " ON a.appid = b.appid WHERE b.mch_id = ? ORDER BY a.kind, a.appid",
            (mch_id,),
        )
        return [rows.app_from_row(r) for r in found]

    # payers --------------------------------------------------------------------------------
    def insert_payer(self, name: str, pay_password: str) -> Payer:
        row = self._one(
            "INSERT INTO payers (name, pay_password, password_policy) VALUES (?, ?, 'platform')"
            " RETURNING id, name, pay_password, password_policy",
            (name, pay_password),
        )
        return rows.payer_from_row(row)

    def payer(self, payer_id: int) -> Payer | None:
        row = self._one(
            "SELECT id, name, pay_password, password_policy FROM payers WHERE id = ?", (payer_id,)
        )
        return None if row is None else rows.payer_from_row(row)

    def payers(self, limit: int, after_id: int | None = None) -> list[Payer]:
        """A page of payers in creation order (keyset on id): never the whole table."""
        sql, params = "SELECT id, name, pay_password, password_policy FROM payers", [limit]
        if after_id is not None:
            sql, params = sql + " WHERE id > ?", [after_id, limit]
        found = self._all(sql + " ORDER BY id LIMIT ?", params)
        return [rows.payer_from_row(r) for r in found]

    def payer_profiles(self, payers: Sequence[Payer]) -> list[PayerProfile]:
        """Each payer with balance, openids and cards: three statements for any number."""
        if not payers:
            return []
        ids = [p.id for p in payers]
        marks = ", ".join("?" for _ in ids)
        balances = dict(
            self._all(
                f"SELECT code, balance FROM accounts WHERE code IN ({marks})",
                [wallet(i) for i in ids],
            )
        )
        openids: dict[int, dict[str, str]] = {i: {} for i in ids}
        for payer_id, appid, openid in self._all(
            f"SELECT payer_id, appid, openid FROM openids WHERE payer_id IN ({marks})", ids
        ):
            openids[payer_id][appid] = openid
        cards: dict[int, list[Card]] = {i: [] for i in ids}
        for r in self._all(
            "SELECT id, payer_id, bank_type, last4 FROM cards"
            f" WHERE payer_id IN ({marks}) ORDER BY id",
            ids,
        ):
            cards[r[1]].append(rows.card_from_row(r))
        return [
            PayerProfile(p, int(balances.get(wallet(p.id), 0)), openids[p.id], cards[p.id])
            for p in payers
        ]

    def insert_openid(self, payer_id: int, appid: str, openid: str) -> None:
        self._exec(
            "INSERT INTO openids (openid, payer_id, appid) VALUES (?, ?, ?)",
            (openid, payer_id, appid),
        )

    def openid_of(self, payer_id: int, appid: str) -> str | None:
        row = self._one(
            "SELECT openid FROM openids WHERE payer_id = ? AND appid = ?", (payer_id, appid)
        )
        return None if row is None else str(row[0])

    def openids_of(self, payer_id: int) -> dict[str, str]:
        found = self._all("SELECT appid, openid FROM openids WHERE payer_id = ?", (payer_id,))
        return {appid: openid for appid, openid in found}

    def payer_by_openid(self, openid: str) -> tuple[Payer, str] | None:
        row = self._one(
            "SELECT p.id, p.name, p.pay_password, p.password_policy, o.appid FROM openids o"
            " JOIN payers p ON p.id = o.payer_id WHERE o.openid = ?",
            (openid,),
        )
        return None if row is None else (rows.payer_from_row(row[:4]), row[4])

    def insert_card(self, payer_id: int, bank_type: str, last4: str) -> Card:
        row = self._one(
            "INSERT INTO cards (payer_id, bank_type, last4) VALUES (?, ?, ?)"
            " RETURNING id, payer_id, bank_type, last4",
            (payer_id, bank_type, last4),
        )
        return rows.card_from_row(row)

    def cards_of(self, payer_id: int) -> list[Card]:
        found = self._all(
            "SELECT id, payer_id, bank_type, last4 FROM cards WHERE payer_id = ? ORDER BY id",
            (payer_id,),
        )
        return [rows.card_from_row(r) for r in found]

    # merchant certificates -----------------------------------------------------------------
    _CERT_COLUMNS = (
        "id, mch_id, serial, cert_pem, key_pem, not_before, not_after, created_at, revoked_at"
    )

    @staticmethod
    def _cert(row: Any) -> MerchantCert:
        return MerchantCert(
            id=row[0],
            mch_id=row[1],
            serial=row[2],
            cert_pem=row[3],
            key_pem=row[4],
            not_before=from_millis(row[5]),
            not_after=from_millis(row[6]),
            created_at=from_millis(row[7]),
            revoked_at=rows.dt(row[8]),
        )

    def insert_merchant_cert(self, cert: MerchantCert) -> MerchantCert:
        row = self._one(
            "INSERT INTO merchant_certs (mch_id, serial, cert_pem, key_pem, not_before,"
            f" not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {self._CERT_COLUMNS}",
            (
                cert.mch_id,
                cert.serial,
                cert.cert_pem,
                cert.key_pem,
                to_millis(cert.not_before),
                to_millis(cert.not_after),
                to_millis(cert.created_at),
            ),
        )
        return self._cert(row)

    def merchant_cert(self, serial: str) -> MerchantCert | None:
        row = self._one(
            f"SELECT {self._CERT_COLUMNS} FROM merchant_certs WHERE serial = ?", (serial,)
        )
        return None if row is None else self._cert(row)

    def merchant_certs(self, mch_id: str) -> list[MerchantCert]:
        found = self._all(
            f"SELECT {self._CERT_COLUMNS} FROM merchant_certs WHERE mch_id = ? ORDER BY id DESC",
            (mch_id,),
        )
        return [self._cert(r) for r in found]

    def revoke_merchant_certs(self, mch_id: str, at: datetime) -> None:
        self._exec(
            "UPDATE merchant_certs SET revoked_at = ? WHERE mch_id = ? AND revoked_at IS NULL",
            (to_millis(at), mch_id),
        )

    def set_password_policy(self, payer_id: int, policy: str) -> None:
        self._exec("UPDATE payers SET password_policy = ? WHERE id = ?", (policy, payer_id))
