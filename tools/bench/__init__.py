"""Benchmarks of source-sentry against its Sentry emulator: `make bench` writes docs/benchmarks.md."""
