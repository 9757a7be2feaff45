//! `bytes::BufMut` for the buffer guards (cargo feature `bytes`).
//!
//! One of the crate's few files with `unsafe` code: `BufMut` is an unsafe trait, and each impl
//! only forwards to `Vec<u8>`'s own `BufMut` impl on the buffer the guard derefs to.

use bytes::buf::UninitSlice;
use bytes::BufMut;

use super::{Buffer, OwnedBuffer};

macro_rules! forward_buf_mut {
    ($name:ident $(<$lt:lifetime>)?) => {
        #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
        // SAFETY: every method forwards to `Vec<u8>`'s `BufMut` impl on the same vector (the one
        // `DerefMut` gives, which stays the same for the guard's whole life), so the trait's
        // contract holds as it does for `Vec<u8>`:
        // - `remaining_mut` and `chunk_mut` describe that vector's spare room;
        // - `advance_mut` marks bytes of that same vector as initialised.
        unsafe impl$(<$lt>)? BufMut for $name$(<$lt>)? {
            #[inline]
            fn remaining_mut(&self) -> usize {
                (**self).remaining_mut()
            }

            #[inline]
            unsafe fn advance_mut(&mut self, cnt: usize) {
                // SAFETY: the caller guarantees `cnt` bytes of the chunk from `chunk_mut` were
                // initialised; that chunk is this vector's, as `advance_mut` requires.
                unsafe { (**self).advance_mut(cnt) }
            }

            #[inline]
            fn chunk_mut(&mut self) -> &mut UninitSlice {
                (**self).chunk_mut()
            }

            #[inline]
            fn put_slice(&mut self, src: &[u8]) {
                (**self).extend_from_slice(src);
            }
        }
    };
}

forward_buf_mut!(Buffer<'a>);
forward_buf_mut!(OwnedBuffer);
