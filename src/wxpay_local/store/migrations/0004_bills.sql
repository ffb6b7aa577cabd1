-- Bills: a merchant's day read in (time, id) order, batch by batch, without sorting or scanning.
CREATE INDEX orders_merchant_paid ON orders (merchant_id, time_end, id);
CREATE INDEX orders_revoked ON orders (merchant_id, updated_at, id) WHERE trade_state = 'REVOKED';
CREATE INDEX refunds_merchant_created ON refunds (merchant_id, created_at, id);
CREATE INDEX ledger_txns_at ON ledger_txns (at, id);
CREATE INDEX postings_txn ON postings (txn_id);
