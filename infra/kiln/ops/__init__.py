"""Release operations: each reads the stack file and AWS, acts, writes back, records."""
