-- A database made by the first migration runner (schema_version, no checksums) at d5fc3c8,
-- dumped with sqlite3 iterdump: the adoption test restores it and opens it.
BEGIN TRANSACTION;
CREATE TABLE accounts (
    code TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
);
CREATE TABLE app_bindings (
    mch_id TEXT NOT NULL,
    appid TEXT NOT NULL REFERENCES apps (appid),
    PRIMARY KEY (mch_id, appid)
);
CREATE TABLE apps (
    appid TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    secret TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE auth_codes (
    auth_code TEXT PRIMARY KEY,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    order_id BIGINT,
    reserved_mch_id TEXT
);
CREATE TABLE cards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    bank_type TEXT NOT NULL,
    last4 TEXT NOT NULL
);
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    number INTEGER NOT NULL,
    at BIGINT NOT NULL,
    ok INTEGER NOT NULL,
    http_status INTEGER,
    latency_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    excerpt TEXT NOT NULL
);
CREATE TABLE journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    mch_id TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    return_code TEXT NOT NULL,
    result_code TEXT NOT NULL,
    err_code TEXT NOT NULL,
    message TEXT NOT NULL,
    explanation TEXT NOT NULL,
    duration_us INTEGER NOT NULL
);
CREATE TABLE ledger_txns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    at BIGINT NOT NULL,
    memo TEXT NOT NULL
);
CREATE TABLE merchant_certs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mch_id TEXT NOT NULL,
    serial TEXT NOT NULL UNIQUE,
    cert_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE merchants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mch_id TEXT NOT NULL,
    env TEXT NOT NULL,
    name TEXT NOT NULL,
    api_key TEXT NOT NULL,
    fee_rate_ppm INTEGER NOT NULL,
    console_password TEXT NOT NULL,
    created_at BIGINT NOT NULL, refund_notify_url TEXT NOT NULL DEFAULT '',
    UNIQUE (mch_id, env)
);
INSERT INTO "merchants" VALUES(1,'1900000109','live','Old Shop','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk',6000,'pw',0,'');
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    order_id BIGINT NOT NULL,
    url TEXT NOT NULL,
    fields TEXT NOT NULL,
    sign_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    first_attempt_at BIGINT,
    delivered_at BIGINT,
    lease_until BIGINT
);
CREATE TABLE oauth_grants (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    appid TEXT NOT NULL,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    openid TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    pair TEXT NOT NULL
);
CREATE TABLE openids (
    openid TEXT PRIMARY KEY,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    appid TEXT NOT NULL,
    UNIQUE (payer_id, appid)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    mch_id TEXT NOT NULL,
    appid TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    trade_type TEXT NOT NULL,
    trade_state TEXT NOT NULL,
    total_fee BIGINT NOT NULL,
    body TEXT NOT NULL,
    spbill_create_ip TEXT NOT NULL,
    sign_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    notify_url TEXT NOT NULL,
    device_info TEXT NOT NULL,
    detail TEXT NOT NULL,
    attach TEXT NOT NULL,
    fee_type TEXT NOT NULL,
    time_start BIGINT,
    time_expire BIGINT,
    goods_tag TEXT NOT NULL,
    product_id TEXT NOT NULL,
    limit_pay TEXT NOT NULL,
    openid TEXT NOT NULL,
    receipt TEXT NOT NULL,
    profit_sharing TEXT NOT NULL,
    scene_info TEXT NOT NULL,
    nonce_str TEXT NOT NULL,
    prepay_id TEXT,
    prepay_expires_at BIGINT,
    qr_code TEXT,
    transaction_id TEXT,
    payer_openid TEXT NOT NULL,
    payer_id BIGINT,
    bank_type TEXT NOT NULL,
    cash_fee BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    is_subscribe TEXT NOT NULL,
    time_end BIGINT,
    updated_at BIGINT, auth_code TEXT, password_deadline BIGINT, password_free INTEGER NOT NULL DEFAULT 0, card_id BIGINT,
    UNIQUE (merchant_id, out_trade_no)
);
CREATE TABLE payers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    pay_password TEXT NOT NULL,
    password_policy TEXT NOT NULL
);
CREATE TABLE postings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id BIGINT NOT NULL REFERENCES ledger_txns (id),
    account TEXT NOT NULL REFERENCES accounts (code),
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL
);
CREATE TABLE refunds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    out_refund_no TEXT NOT NULL,
    refund_id TEXT NOT NULL UNIQUE,
    refund_fee BIGINT NOT NULL,
    fee_returned BIGINT NOT NULL,
    refund_fee_type TEXT NOT NULL,
    refund_desc TEXT NOT NULL,
    refund_account TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    refund_status TEXT NOT NULL,
    refund_channel TEXT NOT NULL,
    recv_account TEXT NOT NULL,
    request_source TEXT NOT NULL,
    sign_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    settle_at BIGINT,
    success_time BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (merchant_id, out_refund_no)
);
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mch_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    interface_url TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO "schema_version" VALUES(1);
INSERT INTO "schema_version" VALUES(2);
INSERT INTO "schema_version" VALUES(3);
INSERT INTO "schema_version" VALUES(4);
INSERT INTO "schema_version" VALUES(5);
INSERT INTO "schema_version" VALUES(6);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "settings" VALUES('made.by','the first migration runner (schema_version), d5fc3c8');
CREATE TABLE short_urls (
    code TEXT PRIMARY KEY,
    long_url TEXT NOT NULL UNIQUE,
    mch_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE stale_handles (
    handle TEXT PRIMARY KEY,
    order_id BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_transaction_id ON orders (transaction_id);
CREATE UNIQUE INDEX orders_prepay_id ON orders (prepay_id);
CREATE UNIQUE INDEX orders_qr_code ON orders (qr_code);
CREATE INDEX orders_merchant_created ON orders (merchant_id, created_at);
CREATE INDEX postings_account ON postings (account, id);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_order ON notifications (order_id);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, number);
CREATE INDEX journal_mch ON journal (mch_id, id);
CREATE INDEX auth_codes_payer ON auth_codes (payer_id, created_at);
CREATE INDEX orders_payer_micropay ON orders (payer_id, trade_type, time_end);
CREATE INDEX merchant_certs_mch ON merchant_certs (mch_id, id);
CREATE INDEX reports_mch ON reports (mch_id, id);
CREATE INDEX refunds_order ON refunds (order_id, id);
CREATE INDEX refunds_due ON refunds (refund_status, settle_at);
CREATE INDEX orders_merchant_paid ON orders (merchant_id, time_end, id);
CREATE INDEX orders_revoked ON orders (merchant_id, updated_at, id) WHERE trade_state = 'REVOKED';
CREATE INDEX refunds_merchant_created ON refunds (merchant_id, created_at, id);
CREATE INDEX ledger_txns_at ON ledger_txns (at, id);
CREATE INDEX postings_txn ON postings (txn_id);
CREATE INDEX orders_payer_paid ON orders (payer_id, time_end, id) WHERE payer_id IS NOT NULL;
CREATE INDEX app_bindings_appid ON app_bindings (appid);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('merchants',1);
COMMIT;
