"""The test suite, in layers: domain, service, adapters, e2e; helpers in tests.support."""
