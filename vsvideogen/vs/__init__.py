"""vsvideogen.vs."""
