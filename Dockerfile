# The connector image for Airbyte Open Source, which runs it with spec, check, discover or read.
# CI pipelines run the same image with `notify`, or with no arguments and PLUGIN_SENTRY_* settings
# as a Drone or Woodpecker plugin step, and `webhooks` runs the webhook receiver
# (docs/webhooks.md: set SENTRY_WEBHOOKS_LISTEN=0.0.0.0:8080 and give it a volume or PostgreSQL).
FROM python:3.11-slim-bookworm

WORKDIR /airbyte/integration_code

# The pinned versions the tests ran on (requirements/runtime.lock, from `make lock`), then the
# package without resolving again; its own layer, so a code change reuses the installed ones.
COPY requirements/runtime.lock ./requirements/
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
        -r requirements/runtime.lock
# Only what the package is built from; .dockerignore keeps the rest of the context out.
COPY pyproject.toml README.md ./
COPY source_sentry ./source_sentry
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore --no-deps .

RUN useradd --uid 1000 --no-create-home --shell /usr/sbin/nologin airbyte
USER airbyte

ENV AIRBYTE_ENTRYPOINT="source-sentry"
ENTRYPOINT ["source-sentry"]

LABEL io.airbyte.name="sourcesentry/source-sentry"
LABEL io.airbyte.version="0.1.0"
