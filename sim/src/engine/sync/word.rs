//! Values that fit in a machine word: every simulated location stores 64 bits.

/// A value that fits in 64 bits, so every simulated location keeps one kind of store history.
pub trait Word: Copy + 'static {
    /// The value as 64 bits (sign-extended for signed types).
    fn to_bits(self) -> u64;
    /// The inverse of [`Word::to_bits`].
    fn from_bits(bits: u64) -> Self;
}

macro_rules! word_int {
    ($($t:ty),*) => {$(
        impl Word for $t {
            #[inline(always)]
            fn to_bits(self) -> u64 { self as u64 }
            #[inline(always)]
            fn from_bits(bits: u64) -> Self { bits as $t }
        }
    )*};
}
word_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl Word for bool {
    #[inline(always)]
    fn to_bits(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}
