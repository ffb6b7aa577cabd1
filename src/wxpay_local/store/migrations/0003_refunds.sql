-- Refunds, the card an order was paid with, merchants' default refund notify_url.
ALTER TABLE orders ADD COLUMN card_id BIGINT;
ALTER TABLE merchants ADD COLUMN refund_notify_url TEXT NOT NULL DEFAULT '';

CREATE TABLE refunds (
    id {pk},
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
CREATE INDEX refunds_order ON refunds (order_id, id);
CREATE INDEX refunds_due ON refunds (refund_status, settle_at);
