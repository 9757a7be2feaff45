//! `bytes::BufMut` for the buffer guards and [`OwnedBuffer::freeze`] into `bytes::Bytes` (cargo
//! feature `bytes`).
//!
//! One of the crate's few files with `unsafe` code: `BufMut` is an unsafe trait, and each impl
//! only forwards to `Vec<u8>`'s own `BufMut` impl on the buffer the guard derefs to. `freeze` is
//! safe code.

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes};

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

impl OwnedBuffer {
    /// Turns the buffer into a [`Bytes`] without copying: the `Bytes` (and its clones and
    /// slices) point at the buffer's memory, and the buffer goes back to its class, cleared as
    /// usual, when the last of them drops (on whichever thread). For handing a filled buffer to
    /// hyper, tonic or any other `bytes`-based code. While any of them lives the buffer counts as
    /// in use (an empty slice is `Bytes::new()` and holds nothing).
    ///
    /// ```
    /// use bytes::Bytes;
    ///
    /// let pool = hotpool::BufferPool::new();
    /// let mut buf = pool.get_owned(1500);
    /// buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    /// let data = buf.as_ptr();
    /// let bytes: Bytes = buf.freeze();
    /// assert_eq!(bytes.as_ptr(), data); // no copy
    /// let status = bytes.slice(9..15);
    /// assert_eq!(&status[..], b"200 OK");
    /// drop(bytes);
    /// assert_eq!(pool.stats().in_use, 1); // `status` still holds the buffer
    /// drop(status);
    /// let stats = pool.stats();
    /// assert_eq!((stats.in_use, stats.idle), (0, 1)); // back in its class
    /// assert_eq!(pool.get_owned(1500).as_ptr(), data); // and reused
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}
