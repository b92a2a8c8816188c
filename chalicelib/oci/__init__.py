"""Pure OCI rules: digests, names, references, media types. No I/O."""
