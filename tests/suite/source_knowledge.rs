//! (filled in by the source_knowledge work)
