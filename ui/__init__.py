"""Web chat UI, HTTP API and the embeddable widget."""
