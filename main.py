"""`python main.py spec|check|discover|read ...` does what the `source-sentry` command does."""

from source_sentry.run import run

if __name__ == "__main__":
    run()
