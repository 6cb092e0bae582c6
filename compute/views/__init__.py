"""Compute's pages (compute/urls.py routes to them): the edge-host inventory and discovery (inventory), host
tag edits (tags), the synced cluster profiles (profiles), the tenant's capacity summary (capacity), profile
bundles (bundles), compute pools and their actions (pools), and the pool creation wizard (wizard)."""
