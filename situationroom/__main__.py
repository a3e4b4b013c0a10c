"""`python -m situationroom` runs the command line, as the `situationroom` script does."""

from situationroom.cli import app

if __name__ == "__main__":  # not when a benchmark's worker process (multiprocessing, spawn) imports it
    app(prog_name="situationroom")
