"""ComponentResources: pure wiring from settings to AWS resources."""
