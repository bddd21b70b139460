//! (filled in by the xfer work)
