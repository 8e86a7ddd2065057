"""Forwarding's Prometheus metrics, in the receiver's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from source_sentry.webhooks.forward.outbox import STATES

# From receipt to the target's 2xx: loopback targets answer in milliseconds, retried ones in
# minutes to hours.
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 1800, 7200, 36000, 86400)


class ForwardMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Gauge(
            "sentry_webhooks_forward_rows",
            "Outbox rows per target and state (pending, in_flight, failed, dead, sent), all receivers",
            ["target", "state"],
            registry=registry,
        )
        self.disabled = Gauge(
            "sentry_webhooks_forward_target_disabled",
            "1 while a target is disabled (it answered 410 Gone)",
            ["target"],
            registry=registry,
        )
        self.attempts = Counter(
            "sentry_webhooks_forward_attempts",
            "Send attempts by this receiver, by outcome (sent, failed, dead, gone)",
            ["target", "outcome"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "sentry_webhooks_forward_delivery_seconds",
            "From keeping a delivery to the target's 2xx",
            ["target"],
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )

    def show(self, counts: dict[str, dict[str, int]], disabled: dict[str, str], targets: list[str]) -> None:
        for target in targets:
            for state in STATES:
                self.rows.labels(target=target, state=state).set(counts.get(target, {}).get(state, 0))
            self.disabled.labels(target=target).set(1 if target in disabled else 0)
