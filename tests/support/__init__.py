"""Helpers for the tests: request emails, port contract suites, fake Graph and EWS, real servers on loopback."""
