"""``python -m recsys <command>``."""

from recsys.cli import main

if __name__ == "__main__":
    main()
