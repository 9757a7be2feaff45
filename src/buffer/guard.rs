//! The guards of [`BufferPool`](crate::BufferPool) buffers: [`Buffer`] borrows the pool,
//! [`OwnedBuffer`] keeps it alive. Both deref to `Vec<u8>` and give the buffer back when dropped.

use std::fmt;
use std::io;

use super::{Boxed, Classes};
use crate::guard::{Lender, Lent};
use crate::sync::Arc;

/// A buffer's way home: its pool's classes, the class it came from (`sizes.len()`: none, a
/// plain allocation) and the bytes it was charged to the pool's in-flight budget (0 without
/// one). `C` is `&Classes` or `Arc<Classes>`.
pub(crate) struct ClassRef<C> {
    classes: C,
    class: usize,
    charged: usize,
}

impl<C: std::ops::Deref<Target = Classes>> Lender<Vec<u8>> for ClassRef<C> {
    /// The buffer goes back first, then its bytes: a waiter the bytes wake finds it idle.
    #[inline(always)]
    fn give_back(&self, buf: Boxed) {
        self.classes.give_back(buf, self.class);
        self.classes.release(self.charged);
    }

    /// A detached buffer leaves the pool: it is no longer in flight.
    fn note_detached(&self) {
        self.classes.note_detached(self.class);
        self.classes.release(self.charged);
    }
}

/// Defines a buffer guard holding the pool as `$handle`; both guards share every line but the
/// handle and the docs.
macro_rules! buffer_guard {
    ($(#[$doc:meta])* $name:ident [$($lt:lifetime)?] holds $handle:ty, example $ex:literal) => {
        $(#[$doc])*
        #[must_use = "dropping the guard returns the buffer to the pool at once"]
        pub struct $name<$($lt)?> {
            lent: Lent<ClassRef<$handle>, Vec<u8>>,
        }

        impl<$($lt)?> $name<$($lt)?> {
            #[inline(always)]
            pub(crate) fn new(buf: Boxed, classes: $handle, class: usize, charged: usize) -> Self {
                Self { lent: Lent::new(ClassRef { classes, class, charged }, buf) }
            }

            #[inline(always)]
            fn vec(&self) -> &Vec<u8> {
                self.lent.get()
            }

            #[inline(always)]
            fn vec_mut(&mut self) -> &mut Vec<u8> {
                self.lent.get_mut()
            }

            /// Takes the buffer out of the pool for good, with its contents (counted as
            /// `detached`). An associated function, so it never shadows a method of `Vec`:
            /// call it as `Guard::detach(guard)`.
            ///
            /// ```
            #[doc = $ex]
            /// buf.extend_from_slice(b"keep me");
            /// let bytes: Vec<u8> = Guard::detach(buf);
            /// assert_eq!(bytes, b"keep me");
            /// assert_eq!((pool.stats().detached, pool.stats().in_use), (1, 0));
            /// ```
            pub fn detach(guard: Self) -> Vec<u8> {
                guard.lent.detach()
            }

            /// Appends the bytes of one `read` of at most `max` bytes from `reader` (any
            /// `Read`, or `&mut` one) to the buffer and returns how many were read: `Ok(0)` (with `max > 0`) means end of
            /// input. Retries reads interrupted by a signal; after an error the buffer is as
            /// before. The `max` bytes are zeroed before the read (safe code cannot read into
            /// uninitialised memory), so no old data is ever exposed to the reader.
            ///
            /// ```
            #[doc = $ex]
            /// let mut input: &[u8] = b"first line\nsecond";
            /// assert_eq!(buf.read_from(&mut input, 6)?, 6);
            /// assert_eq!(buf.read_from(&mut input, 64)?, 11); // appended
            /// assert_eq!(buf.read_from(&mut input, 64)?, 0); // end of input
            /// assert_eq!(&buf[..], b"first line\nsecond");
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn read_from<Rd: io::Read>(&mut self, reader: Rd, max: usize) -> io::Result<usize> {
                read_into(self.vec_mut(), reader, max)
            }
        }

        impl<$($lt)?> std::ops::Deref for $name<$($lt)?> {
            type Target = Vec<u8>;

            #[inline(always)]
            fn deref(&self) -> &Vec<u8> {
                self.vec()
            }
        }

        impl<$($lt)?> std::ops::DerefMut for $name<$($lt)?> {
            #[inline(always)]
            fn deref_mut(&mut self) -> &mut Vec<u8> {
                self.vec_mut()
            }
        }

        impl<$($lt)?> AsRef<[u8]> for $name<$($lt)?> {
            fn as_ref(&self) -> &[u8] {
                self.vec()
            }
        }

        impl<$($lt)?> AsMut<[u8]> for $name<$($lt)?> {
            fn as_mut(&mut self) -> &mut [u8] {
                self.vec_mut()
            }
        }

        impl<$($lt)?> io::Write for $name<$($lt)?> {
            /// Appends all of `data`, growing the buffer if needed (as `Vec<u8>` does).
            #[inline]
            fn write(&mut self, data: &[u8]) -> io::Result<usize> {
                self.vec_mut().extend_from_slice(data);
                Ok(data.len())
            }

            #[inline]
            fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
                self.vec_mut().extend_from_slice(data);
                Ok(())
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        impl<$($lt)?> fmt::Debug for $name<$($lt)?> {
            /// Formats the bytes, as `Vec<u8>` does.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.vec(), f)
            }
        }
    };
}

buffer_guard!(
    /// A byte buffer lent by a [`BufferPool`](crate::BufferPool): derefs to `Vec<u8>`, and goes
    /// back to the pool (cleared) when dropped, on whichever thread, to the class its capacity
    /// fits then.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let pool = hotpool::BufferPool::new();
    /// let mut buf = pool.get(256);
    /// buf.write_all(b"header: value\r\n")?;
    /// buf.extend_from_slice(b"\r\n");
    /// assert_eq!(buf.as_ref(), b"header: value\r\n\r\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// ```compile_fail
    /// // A buffer cannot outlive its pool.
    /// let buf = {
    ///     let pool = hotpool::BufferPool::new();
    ///     pool.get(64)
    /// };
    /// ```
    Buffer ['a] holds &'a Classes,
    example "use hotpool::Buffer as Guard;\nlet pool = hotpool::BufferPool::new();\nlet mut buf = pool.get(64);"
);

buffer_guard!(
    /// A byte buffer lent by a [`BufferPool`](crate::BufferPool) that keeps the pool alive:
    /// `'static` and `Send`, so it can go into queues, to other threads and across `.await`.
    /// See [`BufferPool::get_owned`](crate::BufferPool::get_owned).
    ///
    /// ```
    /// use hotpool::{BufferPool, OwnedBuffer};
    /// use std::sync::mpsc;
    ///
    /// let pool = BufferPool::new();
    /// let (tx, rx) = mpsc::channel::<OwnedBuffer>();
    /// let consumer = std::thread::spawn(move || rx.iter().map(|chunk| chunk.len()).sum::<usize>());
    /// for line in ["a", "bc", "def"] {
    ///     let mut chunk = pool.get_owned(line.len());
    ///     chunk.extend_from_slice(line.as_bytes());
    ///     tx.send(chunk).unwrap(); // dropped by the consumer: back to the pool from there
    /// }
    /// drop(tx);
    /// assert_eq!(consumer.join().unwrap(), 6);
    /// ```
    OwnedBuffer [] holds Arc<Classes>,
    example "use hotpool::OwnedBuffer as Guard;\nlet pool = hotpool::BufferPool::new();\nlet mut buf = pool.get_owned(64);"
);

/// [`Buffer::read_from`]: one read of at most `max` bytes appended to `buf`.
fn read_into<Rd: io::Read>(buf: &mut Vec<u8>, mut reader: Rd, max: usize) -> io::Result<usize> {
    let start = buf.len();
    let end = start.checked_add(max).expect("buffer length overflow");
    buf.resize(end, 0);
    loop {
        match reader.read(&mut buf[start..]) {
            Ok(n) => {
                // A reader that claims more than it was given read at most `max`.
                let n = n.min(max);
                buf.truncate(start + n);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
}
