"""The receiver's Prometheus metrics, in a registry of its own (one per app, so that tests and a
process running two apps do not share counters)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Sentry gives up after one second; the buckets resolve the range that matters below it.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REJECT_REASONS = ("missing_signature", "bad_signature", "too_large", "store_unavailable")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.accepted = Counter(
            "sentry_webhooks_accepted",
            "Verified deliveries kept as new facts in the feed",
            ["resource"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "sentry_webhooks_duplicates",
            "Verified deliveries recognised as retries of one already kept",
            registry=self.registry,
        )
        self.unparseable = Counter(
            "sentry_webhooks_unparseable",
            "Verified deliveries whose body is not a JSON object, kept raw",
            registry=self.registry,
        )
        self.rejected = Counter(
            "sentry_webhooks_rejected",
            "Deliveries answered with an error and not kept, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sentry_webhooks_answer_seconds",
            "Time from a delivery's request to its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.newest_seq = Gauge(
            "sentry_webhooks_newest_seq", "The newest seq this receiver kept", registry=self.registry
        )
        self.commit_batch = Histogram(
            "sentry_webhooks_commit_batch_size",
            "Deliveries per committed transaction",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=self.registry,
        )
        for reason in REJECT_REASONS:
            self.rejected.labels(reason=reason)
        self._accepted_by_resource: dict[str, Any] = {}

    def accepted_for(self, resource: str) -> Any:
        """The accepted counter's child for one resource, looked up once (labels() costs more
        than the increment on the path that answers Sentry)."""
        child = self._accepted_by_resource.get(resource)
        if child is None:
            child = self._accepted_by_resource[resource] = self.accepted.labels(resource=resource)
        return child

    def kept_and_duplicates(self) -> tuple[int, int]:
        """Deliveries kept as new facts (every resource) and duplicates, counted since the start."""
        kept = sum(
            sample.value
            for family in self.accepted.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        return int(kept), int(self.registry.get_sample_value("sentry_webhooks_duplicates_total") or 0)
