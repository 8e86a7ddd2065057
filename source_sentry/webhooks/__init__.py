"""`source-sentry webhooks`: receives Sentry's webhook deliveries, keeps every verified one, and
serves them as a change feed (docs/webhooks.md).

One job per module: `settings` (file and environment), `signature` (HMAC over the raw bytes),
`envelope` (what a delivery is about), `store` (SQLite or PostgreSQL behind one interface),
`committer` (many requests, one transaction), `metrics`, `app` (the ASGI routes), `cli`.
"""
