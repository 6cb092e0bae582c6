"""Compute fixtures live in tests/conftest.py (`sim`, `connected_project`), shared with the browser tests."""
