-- Retention of webhook history (src/webhooks/retention.ts): a message is removed once no
-- delivery refers to it, looked up by message id.
CREATE INDEX webhook_deliveries_message ON webhook_deliveries (message_id);
CREATE INDEX webhook_messages_created ON webhook_messages (created_at);
