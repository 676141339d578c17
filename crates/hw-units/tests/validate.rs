//! Every bound of `HwConfig::validate`, from both sides: the last value it accepts and the first
//! it rejects, one field at a time (so that a check joined to another by `&&` instead of `||`,
//! or moved by one, fails here), with the message naming the field's unit.

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
fn cases() -> Vec<(String, Edit, bool, &'static str)> {
    let mut v: Vec<(String, Edit, bool, &'static str)> = Vec::new();
    let timings: [(&'static str, Field<Timing>); 3] = [
        ("exp.timing", |c| &mut c.exp.timing),
        ("reduce.timing", |c| &mut c.reduce.timing),
        ("mul.timing", |c| &mut c.mul.timing),
    ];
    for (unit, get) in timings {
        for (lanes, ok) in [(0, false), (1, true), (1024, true), (1025, false)] {
            v.push((
                format!("{unit} lanes {lanes}"),
                Box::new(move |c| get(c).lanes = lanes),
                ok,
                unit,
            ));
        }
        for (latency, ok) in [(0, true), (1024, true), (1025, false)] {
            v.push((
                format!("{unit} latency {latency}"),
                Box::new(move |c| get(c).latency = latency),
                ok,
                unit,
            ));
        }
    }
    let lut = "exp pow2-lut";
    // base(): table_bits 6, entry_bits 12, frac_bits 16, const_bits 16.
    for (t, ok) in [(0, false), (1, true), (16, true), (17, false)] {
        let e: Edit = Box::new(move |c| *pow2(c).0 = t);
        v.push((format!("table_bits {t}"), e, ok, lut));
    }
    for (w, ok) in [(7, false), (8, true), (30, true), (31, false)] {
        let e: Edit = Box::new(move |c| *pow2(c).1 = w);
        v.push((format!("entry_bits {w}"), e, ok, lut));
    }
    for (f, ok) in [(5, false), (6, true), (40, true), (41, false)] {
        let e: Edit = Box::new(move |c| *pow2(c).2 = f);
        v.push((format!("exp frac_bits {f}"), e, ok, lut));
    }
    for (k, ok) in [(7, false), (8, true), (40, true), (41, false)] {
        let e: Edit = Box::new(move |c| *pow2(c).3 = k);
        v.push((format!("const_bits {k}"), e, ok, lut));
    }
    let accs: [(&'static str, Field<AccKind>); 2] = [
        ("reduce: fixed", |c| &mut c.reduce.kind),
        ("mac.accumulator: fixed", |c| &mut c.mac.accumulator),
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
            v.push((
                format!("{unit} fixed {i}.{f}"),
                Box::new(move |c| *get(c) = fixed(i, f)),
                ok,
                unit,
            ));
        }
    }
    for (n, ok) in [(0, false), (1, true), (4096, true), (4097, false)] {
        let e: Edit = Box::new(move |c| c.mac.columns = n);
        v.push((format!("mac columns {n}"), e, ok, "mac: columns"));
    }
    for (n, ok) in [
        (0, false),
        (1, true),
        (3, false),
        (16, true),
        (32, true),
        (33, false),
        (64, false),
    ] {
        let e: Edit = Box::new(move |c| c.mac.block_lanes = n);
        v.push((format!("mac block_lanes {n}"), e, ok, "mac: columns"));
    }
    for (n, ok) in [(1024, true), (1025, false)] {
        let e: Edit = Box::new(move |c| c.mac.latency = n);
        v.push((format!("mac latency {n}"), e, ok, "mac: columns"));
    }
    let nr = "recip newton";
    for (n, ok) in [(0, true), (8, true), (9, false)] {
        let e: Edit = Box::new(move |c| *newton(c).0 = n);
        v.push((format!("iterations {n}"), e, ok, nr));
    }
    for (n, ok) in [(0, false), (1, true), (7, true), (8, false)] {
        let e: Edit = Box::new(move |c| *newton(c).1 = n);
        v.push((format!("seed_bits {n}"), e, ok, nr));
    }
    for (n, ok) in [(7, false), (8, true), (60, true), (61, false)] {
        let e: Edit = Box::new(move |c| *newton(c).2 = n);
        v.push((format!("recip frac_bits {n}"), e, ok, nr));
    }
    let lat = "quantizer and recip latency";
    for (n, ok) in [(1024, true), (1025, false)] {
        let e: Edit = Box::new(move |c| c.quantizer.latency = n);
        v.push((format!("quantizer latency {n}"), e, ok, lat));
        let e: Edit = Box::new(move |c| c.recip.latency = n);
        v.push((format!("recip latency {n}"), e, ok, lat));
    }
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
