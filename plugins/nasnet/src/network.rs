//! The network built from a genotype (owned by the network/training work).
