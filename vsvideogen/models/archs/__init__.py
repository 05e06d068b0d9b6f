"""vsvideogen.models.archs."""
