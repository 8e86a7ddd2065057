"""``source-sentry notify``: record a release and its deploy in Sentry from CI.

Imports nothing heavy: ``run.py`` dispatches here before the Airbyte CDK is loaded.
"""
