"""`python -m rgsync` runs the command line."""

from rgsync.cli import main

if __name__ == "__main__":
    main()
