//! Training and evaluating one network (owned by the network/training work).
