//! The size classes of a [`BufferPool`](super::BufferPool): every piece of class arithmetic
//! lives here.
//!
//! Class `c` holds buffers of exactly `min_size << c` bytes, for `c` in `0..len`; requests above
//! the largest class are plain allocations ("oversized"), whose class index is `len`.

/// The power-of-two size classes from `min_size` to `max_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SizeClasses {
    /// `log2(min_size)`.
    min_shift: u32,
    /// `min_size - 1`: requests up to `min_size` map to class 0.
    min_mask: usize,
    /// How many classes.
    len: usize,
}

impl SizeClasses {
    /// The classes from `min_size` to `max_size`, both powers of two with `min_size <= max_size`
    /// (the builder checked them).
    pub(crate) fn new(min_size: usize, max_size: usize) -> Self {
        debug_assert!(min_size.is_power_of_two() && max_size.is_power_of_two());
        debug_assert!(min_size <= max_size);
        let min_shift = min_size.trailing_zeros();
        Self {
            min_shift,
            min_mask: min_size - 1,
            len: (max_size.trailing_zeros() - min_shift + 1) as usize,
        }
    }

    /// How many classes; also the class index of an oversized buffer.
    #[inline(always)]
    pub(crate) fn len(self) -> usize {
        self.len
    }

    /// The buffer size of class `class` (`< len`).
    #[inline(always)]
    pub(crate) fn size(self, class: usize) -> usize {
        1 << (class as u32 + self.min_shift)
    }

    /// The smallest class size.
    pub(crate) fn min_size(self) -> usize {
        self.size(0)
    }

    /// The largest class size.
    pub(crate) fn max_size(self) -> usize {
        self.size(self.len - 1)
    }

    /// The smallest class whose buffers hold `n` bytes; `len` or more if none does (oversized).
    #[inline(always)]
    pub(crate) fn class_for(self, n: usize) -> usize {
        // ceil(log2(max(n, min_size))) - log2(min_size), without a branch or a division.
        let bits = usize::BITS - (n.saturating_sub(1) | self.min_mask).leading_zeros();
        (bits - self.min_shift) as usize
    }

    /// The class size that serves a request of `n` bytes; `None` above the largest class.
    pub(crate) fn size_for(self, n: usize) -> Option<usize> {
        let class = self.class_for(n);
        (class < self.len).then(|| self.size(class))
    }

    /// The largest class whose size is at most `capacity`: where a buffer whose capacity changed
    /// in use can go back (after shrinking to that size); `None` below the smallest class or
    /// above the largest.
    pub(crate) fn class_at_most(self, capacity: usize) -> Option<usize> {
        if capacity < self.min_size() || capacity > self.max_size() {
            return None;
        }
        Some((usize::BITS - 1 - capacity.leading_zeros() - self.min_shift) as usize)
    }

    /// Most idle buffers class `class` keeps (depot and one thread's cache) under an idle budget
    /// of `max_idle_bytes` (at least `min_size`): one buffer per class first, then the rest split
    /// evenly in bytes between the classes; a budget below one buffer per class gives one to each
    /// class from the smallest up while it lasts.
    pub(crate) fn idle_buffers(self, max_idle_bytes: usize, class: usize) -> usize {
        let one_each = self.bytes_up_to(self.len - 1);
        if max_idle_bytes >= one_each {
            let share = (max_idle_bytes - one_each) / self.len;
            1 + share / self.size(class)
        } else {
            usize::from(self.bytes_up_to(class) <= max_idle_bytes)
        }
    }

    /// One buffer of each class `0..=class`, in bytes: `min + 2 min + ... = (2^(class+1) - 1) min`.
    fn bytes_up_to(self, class: usize) -> usize {
        ((2usize << class) - 1) * self.min_size()
    }

    /// Class `class`'s size as the report shows it: `256 B`, `4 KiB`, `1 MiB`, `1 GiB`.
    pub(crate) fn label(self, class: usize) -> String {
        let size = self.size(class);
        match size.trailing_zeros() {
            30.. => format!("{} GiB", size >> 30),
            20.. => format!("{} MiB", size >> 20),
            10.. => format!("{} KiB", size >> 10),
            _ => format!("{size} B"),
        }
    }
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::SizeClasses;

    #[test]
    fn requests_map_to_the_smallest_class_that_holds_them() {
        let classes = SizeClasses::new(64, 4096);
        assert_eq!(classes.len(), 7);
        for (n, class) in [
            (0, 0),
            (1, 0),
            (64, 0),
            (65, 1),
            (128, 1),
            (4095, 6),
            (4096, 6),
        ] {
            assert_eq!(classes.class_for(n), class, "{n} bytes");
            assert!(classes.size(class) >= n);
        }
        assert!(classes.class_for(4097) >= classes.len(), "oversized");
        assert!(
            classes.class_for(usize::MAX) >= classes.len(),
            "oversized, no overflow"
        );
        assert_eq!(classes.size_for(1500), Some(2048));
        assert_eq!(classes.size_for(4097), None);
        assert_eq!((classes.min_size(), classes.max_size()), (64, 4096));
    }

    #[test]
    fn a_changed_capacity_goes_to_the_largest_class_at_most_its_size() {
        let classes = SizeClasses::new(64, 4096);
        assert_eq!(classes.class_at_most(63), None, "below the smallest");
        assert_eq!(classes.class_at_most(64), Some(0));
        assert_eq!(classes.class_at_most(100), Some(0));
        assert_eq!(classes.class_at_most(4096), Some(6));
        assert_eq!(classes.class_at_most(4097), None, "above the largest");
    }

    #[test]
    fn the_idle_budget_gives_one_each_then_splits_the_rest_in_bytes() {
        let classes = SizeClasses::new(64, 256); // 64 + 128 + 256 = 448 for one each
        let counts = |budget| -> Vec<usize> {
            (0..classes.len())
                .map(|c| classes.idle_buffers(budget, c))
                .collect()
        };
        assert_eq!(counts(448), [1, 1, 1]);
        // 768 more bytes, 256 per class: 4, 2 and 1 more buffers.
        assert_eq!(counts(448 + 768), [5, 3, 2]);
        // Below one each: from the smallest up while it lasts.
        assert_eq!(counts(64), [1, 0, 0]);
        assert_eq!(counts(200), [1, 1, 0]);
    }

    #[test]
    fn labels_use_binary_units() {
        let classes = SizeClasses::new(256, 1 << 30);
        assert_eq!(classes.label(0), "256 B");
        assert_eq!(classes.label(2), "1 KiB");
        assert_eq!(classes.label(12), "1 MiB");
        assert_eq!(classes.label(22), "1 GiB");
    }
}
