"""Pure release core: artifact records, signatures, the ledger — no AWS, no Pulumi."""
