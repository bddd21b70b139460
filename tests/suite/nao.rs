//! (filled in by the nao work)
