"""Project-owned fakes of external services that cannot run on a test machine (see machine-notes §4)."""
