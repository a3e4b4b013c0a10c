"""situationroom: a city's digital situation room."""

__version__ = "0.1.0"
