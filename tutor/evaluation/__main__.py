"""`python -m tutor.evaluation FILE.jsonl [--out DIR] [--url URL] [--workers N] [--min-pass RATE] [--json]`."""

from tutor.evaluation.cli import main

if __name__ == "__main__":
    main()
