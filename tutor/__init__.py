"""课程助教 — the LLM course tutor: CLI, agent, tools and service glue."""

__version__ = "0.1.0"
