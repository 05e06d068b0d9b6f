"""vsvideogen.weights."""
