-- unifiedorder inserts one row into orders per request, and each index on orders is one more
-- B-tree write (and page for the commit to flush). An unpaid order has no transaction_id,
-- payer or time_end, and only a Native order has a qr_code: the indexes that look rows up by
-- those columns become partial, so a new order is written into four indexes instead of seven.
-- Every query that uses them compares the column with = or a range (which implies NOT NULL),
-- so both databases still read them: the unique lookups (transaction_id, prepay_id,
-- qr_code), the bills (merchant_id, time_end, id) and the payer's micropay reads.
-- Uniqueness is unchanged: NULLs never collided.
DROP INDEX orders_transaction_id;
CREATE UNIQUE INDEX orders_transaction_id ON orders (transaction_id)
    WHERE transaction_id IS NOT NULL;
DROP INDEX orders_prepay_id;
CREATE UNIQUE INDEX orders_prepay_id ON orders (prepay_id) WHERE prepay_id IS NOT NULL;
DROP INDEX orders_qr_code;
CREATE UNIQUE INDEX orders_qr_code ON orders (qr_code) WHERE qr_code IS NOT NULL;
DROP INDEX orders_payer_micropay;
CREATE INDEX orders_payer_micropay ON orders (payer_id, trade_type, time_end)
    WHERE payer_id IS NOT NULL;
DROP INDEX orders_merchant_paid;
CREATE INDEX orders_merchant_paid ON orders (merchant_id, time_end, id)
    WHERE time_end IS NOT NULL;
