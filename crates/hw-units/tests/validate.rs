//! Every bound of `HwConfig::validate`, from both sides: the last value it accepts and the first
//! it rejects, one field at a time (so that a check joined to another by `&&` instead of `||`,
//! or moved by one, fails here), with the message naming the field by its dotted path.

use hw_units::config::{AccKind, ExpKind, HwConfig, Overflow, RecipKind, Timing};

/// A config with every configurable kind in use, each parameter strictly inside its range.
fn base() -> HwConfig {
    let mut c = HwConfig::narrow();
    c.reduce.kind = fixed(16, 32);
    c.mac.accumulator = fixed(16, 32);
    c
}

fn fixed(int_bits: u32, frac_bits: u32) -> AccKind {
    AccKind::Fixed {
        int_bits,
        frac_bits,
        overflow: Overflow::Saturate,
    }
}

fn pow2(c: &mut HwConfig) -> (&mut u32, &mut u32, &mut u32, &mut u32) {
    match &mut c.exp.kind {
        ExpKind::Pow2Lut {
            table_bits,
            entry_bits,
            frac_bits,
            const_bits,
            ..
        } => (table_bits, entry_bits, frac_bits, const_bits),
        ExpKind::Exact => unreachable!("base() uses pow2-lut"),
    }
}

fn newton(c: &mut HwConfig) -> (&mut u32, &mut u32, &mut u32) {
    match &mut c.recip.kind {
        RecipKind::Newton {
            iterations,
            seed_bits,
            frac_bits,
        } => (iterations, seed_bits, frac_bits),
        RecipKind::Exact => unreachable!("base() uses newton"),
    }
}

type Edit = Box<dyn Fn(&mut HwConfig)>;
/// Where a field of a config lives.
type Field<T> = fn(&mut HwConfig) -> &mut T;

/// `(what, edit, accepted, text the error must contain)`.
type Case = (String, Edit, bool, &'static str);

/// One case per `(value, accepted)`: `set` writes the value into the base config; a rejection's
/// message must contain `msg`.
fn bound<T: Copy + std::fmt::Display + 'static>(
    v: &mut Vec<Case>,
    what: &str,
    msg: &'static str,
    values: &[(T, bool)],
    set: impl Fn(&mut HwConfig, T) + Copy + 'static,
) {
    for &(x, ok) in values {
        v.push((format!("{what} {x}"), Box::new(move |c| set(c, x)), ok, msg));
    }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let timings: [(&'static str, Field<Timing>); 3] = [
        ("exp.timing", |c| &mut c.exp.timing),
        ("reduce.timing", |c| &mut c.reduce.timing),
        ("mul.timing", |c| &mut c.mul.timing),
    ];
    for (unit, get) in timings {
        let lanes = [(0, false), (1, true), (1024, true), (1025, false)];
        bound(
            &mut v,
            &format!("{unit} lanes"),
            unit,
            &lanes,
            move |c, x| get(c).lanes = x,
        );
        let latency = [(0, true), (1024, true), (1025, false)];
        bound(
            &mut v,
            &format!("{unit} latency"),
            unit,
            &latency,
            move |c, x| get(c).latency = x,
        );
    }
    // base(): table_bits 6, entry_bits 12, frac_bits 16, const_bits 16.
    let table_bits = [(0, false), (1, true), (16, true), (17, false)];
    bound(
        &mut v,
        "table_bits",
        "exp.kind.table_bits",
        &table_bits,
        |c, x| *pow2(c).0 = x,
    );
    let entry_bits = [(7, false), (8, true), (30, true), (31, false)];
    bound(
        &mut v,
        "entry_bits",
        "exp.kind.entry_bits",
        &entry_bits,
        |c, x| *pow2(c).1 = x,
    );
    let frac_bits = [(5, false), (6, true), (40, true), (41, false)];
    bound(
        &mut v,
        "exp frac_bits",
        "exp.kind.frac_bits",
        &frac_bits,
        |c, x| *pow2(c).2 = x,
    );
    let const_bits = [(7, false), (8, true), (40, true), (41, false)];
    bound(
        &mut v,
        "const_bits",
        "exp.kind.const_bits",
        &const_bits,
        |c, x| *pow2(c).3 = x,
    );
    let accs: [(&'static str, Field<AccKind>); 2] = [
        ("reduce.kind", |c| &mut c.reduce.kind),
        ("mac.accumulator", |c| &mut c.mac.accumulator),
    ];
    for (unit, get) in accs {
        for (i, f, ok) in [
            (1, 8, false),
            (2, 8, true),
            (64, 56, true),
            (65, 8, false),
            (60, 60, true),
            (60, 61, false),
        ] {
            let what = format!("{unit} int_bits {i}, frac_bits");
            bound(&mut v, &what, unit, &[(f, ok)], move |c, f| {
                *get(c) = fixed(i, f)
            });
        }
    }
    let columns = [(0, false), (1, true), (4096, true), (4097, false)];
    bound(&mut v, "mac columns", "mac.columns", &columns, |c, x| {
        c.mac.columns = x
    });
    let block_lanes = [
        (0, false),
        (1, true),
        (3, false),
        (16, true),
        (32, true),
        (33, false),
        (64, false),
    ];
    bound(
        &mut v,
        "mac block_lanes",
        "mac.block_lanes",
        &block_lanes,
        |c, x| c.mac.block_lanes = x,
    );
    let latency = [(1024, true), (1025, false)];
    bound(&mut v, "mac latency", "mac.latency", &latency, |c, x| {
        c.mac.latency = x
    });
    let iterations = [(0, true), (8, true), (9, false)];
    bound(
        &mut v,
        "iterations",
        "recip.kind.iterations",
        &iterations,
        |c, x| *newton(c).0 = x,
    );
    let seed_bits = [(0, false), (1, true), (7, true), (8, false)];
    bound(
        &mut v,
        "seed_bits",
        "recip.kind.seed_bits",
        &seed_bits,
        |c, x| *newton(c).1 = x,
    );
    let frac_bits = [(7, false), (8, true), (60, true), (61, false)];
    bound(
        &mut v,
        "recip frac_bits",
        "recip.kind.frac_bits",
        &frac_bits,
        |c, x| *newton(c).2 = x,
    );
    bound(
        &mut v,
        "quantizer latency",
        "quantizer.latency",
        &latency,
        |c, x| c.quantizer.latency = x,
    );
    bound(
        &mut v,
        "recip latency",
        "recip.latency",
        &latency,
        |c, x| c.recip.latency = x,
    );
    v
}

#[test]
fn every_bound_accepts_its_last_value_and_rejects_the_next() {
    assert_eq!(base().validate(), Ok(()));
    for (what, edit, ok, msg) in cases() {
        let mut c = base();
        edit(&mut c);
        match c.validate() {
            Ok(()) => assert!(ok, "{what}: accepted"),
            Err(e) => {
                assert!(!ok, "{what}: rejected: {e}");
                assert!(e.contains(msg), "{what}: {e:?} should name {msg:?}");
            }
        }
    }
}
