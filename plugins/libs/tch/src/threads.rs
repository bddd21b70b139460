//! torch's intra-op thread count, fixed while a plugin computes.

/// Sets torch's intra-op thread count while it lives and restores the previous one when dropped
/// (also on a panic). Reductions and matrix products split their work by thread, so results, and
/// then proposals, depend on the count: fixing it makes a search repeat on machines with other
/// core counts (a resumed run on another cluster node). On tiny matrices (the RL controller's
/// 20 × 100) more threads also only add synchronisation.
pub struct ThreadLimit(Option<i32>);

impl ThreadLimit {
    /// `threads = 0` changes nothing.
    pub fn new(threads: usize) -> Self {
        let want = i32::try_from(threads).unwrap_or(i32::MAX);
        if want == 0 {
            return ThreadLimit(None);
        }
        let before = tch::get_num_threads();
        if before == want {
            return ThreadLimit(None);
        }
        tch::set_num_threads(want);
        ThreadLimit(Some(before.max(1)))
    }
}

impl Drop for ThreadLimit {
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            tch::set_num_threads(before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_restores_the_thread_count() {
        let before = tch::get_num_threads();
        let other = if before == 1 { 2 } else { 1 };
        {
            let _limit = ThreadLimit::new(other as usize);
            assert_eq!(tch::get_num_threads(), other);
            {
                let _same = ThreadLimit::new(other as usize);
                assert_eq!(tch::get_num_threads(), other);
            }
            assert_eq!(
                tch::get_num_threads(),
                other,
                "a nested equal limit restores nothing"
            );
            let _unchanged = ThreadLimit::new(0);
            assert_eq!(tch::get_num_threads(), other);
        }
        assert_eq!(tch::get_num_threads(), before);
    }
}
