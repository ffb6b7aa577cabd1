-- Fault rules (domain/faults.py): every server process reads the same rules; fired and seen
-- are counted with one UPDATE each, so "fires N times" holds across processes. namespace is
-- reserved for isolated worlds (issue 12, part 6): '' is the default one. created_at is epoch
-- milliseconds on the platform clock.
CREATE TABLE fault_rules (
    id {pk},
    namespace TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    timing TEXT NOT NULL,
    mch_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    host TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    total_fee BIGINT,
    device_info TEXT NOT NULL,
    err_code TEXT NOT NULL,
    return_msg TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    delay_ms BIGINT NOT NULL,
    times BIGINT,
    fired BIGINT NOT NULL DEFAULT 0,
    seen BIGINT NOT NULL DEFAULT 0,
    probability DOUBLE PRECISION NOT NULL,
    seed BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
