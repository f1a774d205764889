from tests.registry.test_pages import promoted  # noqa: F401 - a fixture, shared with the registry's pages
