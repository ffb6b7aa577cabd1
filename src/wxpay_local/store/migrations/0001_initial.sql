-- The initial schema. {pk} and {bytes} are filled in per database; times are epoch milliseconds.
CREATE TABLE merchants (
    id {pk},
    mch_id TEXT NOT NULL,
    env TEXT NOT NULL,
    name TEXT NOT NULL,
    api_key TEXT NOT NULL,
    fee_rate_ppm INTEGER NOT NULL,
    console_password TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (mch_id, env)
);
CREATE TABLE apps (
    appid TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    secret TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE app_bindings (
    mch_id TEXT NOT NULL,
    appid TEXT NOT NULL REFERENCES apps (appid),
    PRIMARY KEY (mch_id, appid)
);
CREATE TABLE payers (
    id {pk},
    name TEXT NOT NULL,
    pay_password TEXT NOT NULL,
    password_policy TEXT NOT NULL
);
CREATE TABLE openids (
    openid TEXT PRIMARY KEY,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    appid TEXT NOT NULL,
    UNIQUE (payer_id, appid)
);
CREATE TABLE cards (
    id {pk},
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    bank_type TEXT NOT NULL,
    last4 TEXT NOT NULL
);
CREATE TABLE orders (
    id {pk},
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
    updated_at BIGINT,
    UNIQUE (merchant_id, out_trade_no)
);
CREATE UNIQUE INDEX orders_transaction_id ON orders (transaction_id);
CREATE UNIQUE INDEX orders_prepay_id ON orders (prepay_id);
CREATE UNIQUE INDEX orders_qr_code ON orders (qr_code);
CREATE INDEX orders_merchant_created ON orders (merchant_id, created_at);

CREATE TABLE accounts (
    code TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
);
CREATE TABLE ledger_txns (
    id {pk},
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    at BIGINT NOT NULL,
    memo TEXT NOT NULL
);
CREATE TABLE postings (
    id {pk},
    txn_id BIGINT NOT NULL REFERENCES ledger_txns (id),
    account TEXT NOT NULL REFERENCES accounts (code),
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL
);
CREATE INDEX postings_account ON postings (account, id);

CREATE TABLE notifications (
    id {pk},
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
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_order ON notifications (order_id);
CREATE TABLE delivery_attempts (
    id {pk},
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    number INTEGER NOT NULL,
    at BIGINT NOT NULL,
    ok INTEGER NOT NULL,
    http_status INTEGER,
    latency_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    excerpt TEXT NOT NULL
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, number);

CREATE TABLE journal (
    id {pk},
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
CREATE INDEX journal_mch ON journal (mch_id, id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
