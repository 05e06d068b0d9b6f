"""vsvideogen.filters."""
