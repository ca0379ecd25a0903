"""The author layer: what plugin authors run against their plugin (the contract ``zoo check``
checks, and the package ``zoo new-plugin`` writes)."""
