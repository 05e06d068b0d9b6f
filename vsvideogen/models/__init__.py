"""vsvideogen.models."""
