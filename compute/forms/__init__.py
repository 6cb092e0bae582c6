"""Compute's forms: the discovery policy of the inventory page (inventory), the new profile bundle form
(bundles) and the compute pool form the wizard and the full-form POST validate with (pools)."""
