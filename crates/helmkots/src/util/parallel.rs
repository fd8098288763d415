//! The one work queue: items handed to a few scoped threads, results back in item order, so
//! what runs in parallel (renders, proofs, manifest fetches) gives the same output as a loop.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex,
};

/// Threads for CPU-bound work: one a core, at most 8.
pub(crate) fn cpu_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8)
}

/// `work(item)` for every item, on up to `workers` threads; the results in item order.
/// A panic in `work` is the caller's (it resumes on this thread).
pub(crate) fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(index) else { break };
                let result = work(item);
                done.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((index, result));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_item_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..40).collect();
        let results = map_in_order(&items, 4, |item| {
            // Early items sleep longest, so they finish last.
            std::thread::sleep(std::time::Duration::from_millis(40 - item));
            item * 2
        });
        let expected: Vec<u64> = items.iter().map(|&i| i * 2).collect();
        assert_eq!(results, expected);
        assert!(map_in_order(&[] as &[u8], 3, |_| ()).is_empty());
    }
}
