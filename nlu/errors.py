"""Exceptions shared by the NLU backends."""


class NLUUnavailable(Exception):
    """The backend cannot answer now (Rasa down or slow); the message is safe to show users."""
