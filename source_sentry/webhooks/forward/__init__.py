"""Forwarding (issue 28): chosen deliveries re-sent to other systems, at least once.

`config` (targets and filters), `choose` (which targets a delivery goes to), `outbox` (rows
written with the delivery, claimed with leases), `signing` (Standard Webhooks), `slack` (the
message), `retry` (the schedule), `sender` (one per target), `metrics`, `session` and `page`
(the status page), `report` (state as data and text), `service` (wiring), `cli`.
"""
