"""Developer tooling for victron_cerbo (not shipped with the integration)."""
