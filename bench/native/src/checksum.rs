//! A cheap fingerprint of loaded data, so contenders are checked to return
//! the same rows before they are timed.

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    pub rows: u64,
    pub sum: u64,
}

impl Checksum {
    /// Adds one loaded value: its key, its text fields and which are NULL.
    pub fn add(&mut self, key: i32, texts: &[Option<&str>]) {
        self.rows += 1;
        let mut h = u64::from(key.unsigned_abs()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for (i, text) in texts.iter().enumerate() {
            let part = match text {
                None => 0x5bd1_e995,
                Some(t) => t.bytes().fold(i as u64 + 1, |acc, b| {
                    acc.wrapping_mul(31).wrapping_add(u64::from(b))
                }),
            };
            h = h.rotate_left(7) ^ part;
        }
        self.sum = self.sum.wrapping_add(h);
    }

    /// Marks where one group ends, so the same rows grouped differently
    /// give a different checksum.
    pub fn group(&mut self, parent: i32, len: usize) {
        self.sum = self
            .sum
            .wrapping_add(u64::from(parent.unsigned_abs()).wrapping_mul(len as u64 + 17));
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows (checksum {:016x})", self.rows, self.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::Checksum;

    #[test]
    fn distinguishes_values_nulls_and_grouping() {
        let mut a = Checksum::default();
        a.add(1, &[Some("User 1"), None]);
        let mut b = Checksum::default();
        b.add(1, &[Some("User 1"), Some("")]);
        assert_ne!(a, b);
        let mut c = Checksum::default();
        c.add(1, &[Some("User 1"), None]);
        assert_eq!(a, c);
        c.group(1, 2);
        assert_ne!(a, c);
    }
}
