"""``python -m streams.cli``: the ``desk`` command without its console script (the
subprocess tests and ``desk up``'s worker start it this way)."""

from streams.cli import main

if __name__ == "__main__":
    main()
