"""`python -m situationroom` runs the command line, as the `situationroom` script does."""

from situationroom.cli import app

app(prog_name="situationroom")
