//! (filled in by the rl_controller work)
