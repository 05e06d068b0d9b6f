"""vsvideogen.train."""
