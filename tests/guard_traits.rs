//! Every guard kind forwards `Display`, `PartialEq<U>`, `PartialOrd<U>`, `Hash`, `AsRef`,
//! `AsMut`, `Borrow`, `BorrowMut`, `io::Write` and `fmt::Write` to its object.

use std::borrow::{Borrow, BorrowMut};
use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use hotpool::{LocalOwnedPooled, LocalPool, LocalPooled, OwnedPooled, Pool, Pooled};

fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn borrowed<T, B: Borrow<T>>(b: &B) -> &T {
    b.borrow()
}

fn borrowed_mut<T, B: BorrowMut<T>>(b: &mut B) -> &mut T {
    b.borrow_mut()
}

/// Runs the checks on guards that `$get` takes from `$string_pool` (a pool of `String`s) and
/// `$bytes_pool` (of `Vec<u8>`s).
macro_rules! guard_checks {
    ($kind:ident, $guard:ident, $get:ident, $string_pool:expr, $bytes_pool:expr) => {
        mod $kind {
            use super::*;

            #[test]
            fn display_formats_the_object() {
                let pool = $string_pool;
                let mut s = pool.$get();
                s.push_str("hello");
                assert_eq!(format!("{s}|{s:>7}"), "hello|  hello");
            }

            #[test]
            fn partial_eq_with_what_the_object_compares_with() {
                let pool = $string_pool;
                let mut s = pool.$get();
                s.push_str("abc");
                assert!(s == "abc");
                assert!(s == *"abc");
                let owned = String::from("abc");
                assert!(s == owned);
                assert!(s != "abd");
                let pool2 = $string_pool;
                let mut t = pool2.$get();
                t.push_str("abc");
                assert!(*s == *t); // two guards compare through their objects
            }

            #[test]
            fn partial_ord_with_what_the_object_orders_against() {
                let pool = $bytes_pool;
                let mut v = pool.$get();
                v.extend_from_slice(&[1, 2]);
                assert_eq!(v.partial_cmp(&vec![1u8, 3]), Some(Ordering::Less));
                assert!(v > vec![1u8, 1]);
                assert!(v <= vec![1u8, 2]);
            }

            #[test]
            fn hash_is_the_objects_hash() {
                let pool = $string_pool;
                let mut s = pool.$get();
                s.push_str("key");
                assert_eq!(hash_of(&s), hash_of("key"));
                assert_eq!(hash_of(&s), hash_of(&String::from("key")));
            }

            #[test]
            fn as_ref_and_as_mut_convert_as_the_object_does() {
                let pool = $string_pool;
                let mut s = pool.$get();
                s.push_str("xy");
                let as_str: &str = s.as_ref();
                let as_bytes: &[u8] = s.as_ref();
                assert_eq!((as_str, as_bytes), ("xy", &b"xy"[..]));
                let pool2 = $bytes_pool;
                let mut v = pool2.$get();
                v.extend_from_slice(&[1, 2]);
                let slice: &mut [u8] = v.as_mut();
                slice[0] = 9;
                assert_eq!(&v[..], [9, 2]);
            }

            #[test]
            fn borrow_and_borrow_mut_lend_the_object() {
                let pool = $string_pool;
                let mut s = pool.$get();
                borrowed_mut::<String, _>(&mut s).push_str("in place");
                assert_eq!(borrowed::<String, _>(&s), "in place");
            }

            #[test]
            fn io_write_writes_to_the_object() {
                use std::io::Write;
                let pool = $bytes_pool;
                let mut v = pool.$get();
                write!(v, "{}-{}", 1, 2).unwrap();
                v.write_all(b"!").unwrap();
                assert_eq!(v.write(b"ab").unwrap(), 2);
                let n = v
                    .write_vectored(&[std::io::IoSlice::new(b"c"), std::io::IoSlice::new(b"d")])
                    .unwrap();
                v.flush().unwrap();
                assert_eq!(n, 2);
                assert_eq!(&v[..], b"1-2!abcd");
            }

            #[test]
            fn fmt_write_writes_to_the_object() {
                use std::fmt::Write;
                let pool = $string_pool;
                let mut s = pool.$get();
                write!(s, "{}+{}", 1, 2).unwrap();
                s.write_char('=').unwrap();
                s.write_str("3").unwrap();
                assert_eq!(*s, "1+2=3");
            }

            #[test]
            fn the_guard_type_is_the_one_expected() {
                let pool = $string_pool;
                let s = pool.$get();
                let _: &$guard<String> = &s;
            }
        }
    };
}

guard_checks!(
    pooled,
    Pooled,
    get,
    Pool::new(String::new),
    Pool::new(Vec::<u8>::new)
);
guard_checks!(
    owned_pooled,
    OwnedPooled,
    get_owned,
    Pool::new(String::new),
    Pool::new(Vec::<u8>::new)
);
guard_checks!(
    local_pooled,
    LocalPooled,
    get,
    LocalPool::new(String::new),
    LocalPool::new(Vec::<u8>::new)
);
guard_checks!(
    local_owned_pooled,
    LocalOwnedPooled,
    get_owned,
    Rc::new(LocalPool::new(String::new)),
    Rc::new(LocalPool::new(Vec::<u8>::new))
);

#[test]
fn guards_work_as_set_keys_through_borrow() {
    // `Borrow<String>` + `Hash` + `Eq` on String: a set of strings can be queried by guard.
    let pool = LocalPool::new(String::new);
    let mut key = pool.get();
    key.push_str("present");
    let set: HashSet<String> = ["present".to_string()].into_iter().collect();
    assert!(set.contains::<String>(key.borrow()));
    assert!(set.contains(&*key));
}

#[test]
fn guards_return_their_object_after_trait_use() {
    use std::fmt::Write;
    let pool = LocalPool::new(String::new);
    {
        let mut s = pool.get();
        write!(s, "x").unwrap();
        assert!(s == "x");
    }
    assert_eq!(pool.stats().idle, 1);
    assert!(pool.get().is_empty());
}
