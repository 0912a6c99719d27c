"""pytest plugin of msp-hub (registered under pytest11)."""
