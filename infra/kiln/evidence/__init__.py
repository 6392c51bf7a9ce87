"""Evidence for others: in-toto/SLSA provenance in DSSE envelopes, and signed release bundles."""
