-- The payer's payment history (and the micropay password prompts) read by payer, newest first.
-- Partial: most orders have no payer until paid, and orders is on the write hot path.
CREATE INDEX orders_payer_paid ON orders (payer_id, time_end, id) WHERE payer_id IS NOT NULL;
