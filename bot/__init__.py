"""strategy-bot: books and follows up child-protection strategy discussions from ordinary email."""

__version__ = "0.1.0"
