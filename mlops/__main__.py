"""`python -m mlops`: the platform's command line."""

from mlops.cli import main

if __name__ == "__main__":
    main()
