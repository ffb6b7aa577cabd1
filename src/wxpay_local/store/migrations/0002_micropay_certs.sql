-- Payment codes, micropay's password window, merchant certificates, reports and short URLs.
CREATE TABLE auth_codes (
    auth_code TEXT PRIMARY KEY,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    order_id BIGINT,
    reserved_mch_id TEXT
);
CREATE INDEX auth_codes_payer ON auth_codes (payer_id, created_at);

ALTER TABLE orders ADD COLUMN auth_code TEXT;
ALTER TABLE orders ADD COLUMN password_deadline BIGINT;
ALTER TABLE orders ADD COLUMN password_free INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_payer_micropay ON orders (payer_id, trade_type, time_end);

CREATE TABLE merchant_certs (
    id {pk},
    mch_id TEXT NOT NULL,
    serial TEXT NOT NULL UNIQUE,
    cert_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX merchant_certs_mch ON merchant_certs (mch_id, id);

CREATE TABLE reports (
    id {pk},
    mch_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    interface_url TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX reports_mch ON reports (mch_id, id);

CREATE TABLE short_urls (
    code TEXT PRIMARY KEY,
    long_url TEXT NOT NULL UNIQUE,
    mch_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- prepay_ids and code_url codes replaced by a re-entry after two hours: they read as expired.
CREATE TABLE stale_handles (
    handle TEXT PRIMARY KEY,
    order_id BIGINT NOT NULL
);
