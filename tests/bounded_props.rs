//! A bounded pool against a model: random sequences of async acquisitions (some queued at the
//! cap), returns, cancellations, detaches and trims, on one thread so that the order of events is
//! the sequence's. After every step the objects' own census must match the model: the cap is
//! never exceeded, a queued acquisition resolves exactly when the model says an object or place
//! reached it (first come, first served), and nothing is lost. At the end, returning everything
//! resolves every waiter.

mod support;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hotpool::{GetFuture, Pool, Pooled};
use proptest::prelude::*;
use support::ops::config;
use support::waker::noop_waker;
use support::{Census, Counted};

const CASES: u32 = if cfg!(miri) { 8 } else { 256 };

#[derive(Debug, Clone)]
enum Op {
    Get,
    Return(usize),
    Cancel(usize),
    Detach(usize),
    Trim,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Get),
        3 => any::<usize>().prop_map(Op::Return),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => any::<usize>().prop_map(Op::Detach),
        1 => Just(Op::Trim),
    ]
}

/// What the pool must hold after each step.
#[derive(Debug, Default)]
struct Model {
    live: usize,
    idle: usize,
}

struct Run<'p> {
    pool: &'p Pool<Counted>,
    census: Arc<Census>,
    cap: usize,
    model: Model,
    held: Vec<Pooled<'p, Counted>>,
    queued: VecDeque<Pin<Box<GetFuture<'p, Counted>>>>,
    waker: Waker,
}

impl<'p> Run<'p> {
    fn check(&self) {
        let alive = self.census.alive();
        assert_eq!(alive, self.model.live, "census vs model {:?}", self.model);
        assert!(
            alive <= self.cap,
            "{alive} alive over max_live = {}",
            self.cap
        );
        assert_eq!(self.held.len() + self.model.idle, self.model.live);
        let stats = self.pool.stats();
        assert_eq!(
            (stats.in_use, stats.idle),
            (self.held.len(), self.model.idle)
        );
    }

    /// The model says the first waiter was just handed an object or a place: it must resolve.
    fn serve_first(&mut self) {
        let mut first = self.queued.pop_front().expect("a waiter to serve");
        match first.as_mut().poll(&mut Context::from_waker(&self.waker)) {
            Poll::Ready(guard) => self.held.push(guard),
            Poll::Pending => panic!("the first waiter was not served"),
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Get => {
                let mut future = Box::pin(self.pool.get_async());
                let ready =
                    self.queued.is_empty() && (self.model.idle > 0 || self.model.live < self.cap);
                match future.as_mut().poll(&mut Context::from_waker(&self.waker)) {
                    Poll::Ready(guard) => {
                        assert!(ready, "resolved at the cap or ahead of the queue");
                        if self.model.idle > 0 {
                            self.model.idle -= 1;
                        } else {
                            self.model.live += 1;
                        }
                        self.held.push(guard);
                    }
                    Poll::Pending => {
                        assert!(!ready, "queued with an object or place free");
                        self.queued.push_back(future);
                    }
                }
            }
            Op::Return(i) if !self.held.is_empty() => {
                drop(self.held.swap_remove(i % self.held.len()));
                if self.queued.is_empty() {
                    self.model.idle += 1;
                } else {
                    self.serve_first();
                }
            }
            Op::Cancel(i) if !self.queued.is_empty() => {
                drop(self.queued.remove(i % self.queued.len()));
            }
            Op::Detach(i) if !self.held.is_empty() => {
                let obj = Pooled::detach(self.held.swap_remove(i % self.held.len()));
                drop(obj); // gone: its place frees
                self.model.live -= 1;
                if !self.queued.is_empty() {
                    self.model.live += 1;
                    self.serve_first();
                }
            }
            Op::Trim => {
                assert_eq!(self.pool.trim(), self.model.idle);
                self.model.live -= self.model.idle;
                self.model.idle = 0;
            }
            _ => {}
        }
        self.check();
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn cap_holds_and_every_waiter_is_served(
        cap in 1usize..5,
        thread_cache in 0usize..4,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let census = Census::new();
        let pool = Pool::builder(census.factory())
        .max_live(cap)
        .thread_cache(thread_cache)
        .build()
        .unwrap();
        let mut run = Run {
            pool: &pool,
            census: Arc::clone(&census),
            cap,
            model: Model::default(),
            held: Vec::new(),
            queued: VecDeque::new(),
            waker: noop_waker(),
        };
        for op in &ops {
            run.step(op);
        }
        // Returning everything serves every waiter.
        while !run.held.is_empty() {
            run.step(&Op::Return(0));
        }
        prop_assert!(run.queued.is_empty(), "{} waiters left unserved", run.queued.len());
        drop(run);
        drop(pool);
        prop_assert_eq!(census.alive(), 0);
    }
}
