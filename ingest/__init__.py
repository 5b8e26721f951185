"""Reader protocols and connection handling: raw reads in, journaled and applied as passings."""
