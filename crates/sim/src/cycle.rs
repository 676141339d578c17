//! The cycle-by-cycle softmax_v model (docs/microarchitecture.md). Every unit is a clocked stage
//! with explicit registers: a [`Delay`] line per unit latency whose `step` returns the value
//! registered `latency` cycles ago (evaluate) and stores this cycle's input (commit). Units are
//! stepped in pipeline order inside a cycle, so a latency-0 unit is combinational. The numbers come
//! from the same unit functions as the functional model, in the same order, so with any timing
//! the dumps are identical to the functional model's.

use crate::mx_op::ProductSum;
use crate::softmax::{Formats, Inputs, Params, StageData, Stages};
use crate::tensor::{int8_of, MxData};
use hw_types::{Bf16, Fp32, MxBlock, RoundingMode, StatusAnd, BLOCK};
use hw_units::acc::Accumulator;
use hw_units::config::HwConfig;
use hw_units::mac::accumulate;
use hw_units::quantize::Quantizer;
use hw_units::units::Units;
use serde::Serialize;
use std::collections::VecDeque;

/// The units of the datapath, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Exp,
    Reduce,
    Quant,
    Mac,
    Recip,
    Mul,
}

impl Unit {
    pub const ALL: [Unit; 6] = [
        Unit::Exp,
        Unit::Reduce,
        Unit::Quant,
        Unit::Mac,
        Unit::Recip,
        Unit::Mul,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Unit::Exp => "exp",
            Unit::Reduce => "reduce",
            Unit::Quant => "quant",
            Unit::Mac => "mac",
            Unit::Recip => "recip",
            Unit::Mul => "mul",
        }
    }
    /// Width in bits of the unit's `data` signal.
    pub fn data_bits(self) -> usize {
        match self {
            Unit::Quant => 264,
            _ => 16,
        }
    }
    pub fn parse(s: &str) -> Result<Unit, String> {
        Unit::ALL
            .into_iter()
            .find(|u| u.name() == s)
            .ok_or_else(|| {
                format!("unknown unit '{s}' (expected exp, reduce, quant, mac, recip or mul)")
            })
    }
}

/// What one unit shows in one cycle: its output `valid`, whether it did work (`busy`), the index
/// of the element/block/column its `data` belongs to, and `data` (big-endian bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub unit: Unit,
    pub valid: bool,
    pub busy: bool,
    pub index: u32,
    pub data: Vec<u8>,
    pub note: String,
}

/// Receives the probes of traced cycles, in cycle order, units in pipeline order.
pub trait TraceSink {
    fn cycle(&mut self, cycle: u64, probes: &[Probe]) -> std::io::Result<()>;
}

/// Per-unit activity over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitStats {
    pub unit: &'static str,
    pub busy_cycles: u64,
    pub first_valid: Option<u64>,
    pub last_valid: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CycleReport {
    pub total_cycles: u64,
    pub cycles_per_head: u64,
    pub units: Vec<UnitStats>,
}

/// A register chain of fixed latency.
struct Delay<T> {
    slots: VecDeque<Option<T>>,
}

impl<T> Delay<T> {
    fn new(latency: usize) -> Self {
        Delay {
            slots: (0..latency).map(|_| None).collect(),
        }
    }
    /// Evaluate (the value registered `latency` cycles ago) and commit `input`.
    fn step(&mut self, input: Option<T>) -> Option<T> {
        if self.slots.is_empty() {
            return input;
        }
        self.slots.push_back(input);
        self.slots.pop_front().flatten()
    }
}

/// Which cycles and units to trace.
pub struct TraceFilter {
    pub cycles: std::ops::Range<u64>,
    pub units: Vec<Unit>,
}

/// Elements the exp stream issues per cycle: the exp unit's lanes, limited by what reduce-sum
/// accepts (its ready is high for that many lanes).
pub fn stream_lanes(c: &HwConfig) -> usize {
    c.exp.timing.lanes.min(c.reduce.timing.lanes)
}

/// Cycles of the MAC array per block: column groups x lane passes.
pub fn mac_cycles_per_block(c: &HwConfig, head_dim: usize) -> usize {
    head_dim.div_ceil(c.mac.columns) * (BLOCK / c.mac.block_lanes)
}

/// The closed form of docs/microarchitecture.md: cycles of one head.
pub fn head_cycles_formula(c: &HwConfig, kv: usize, head_dim: usize) -> u64 {
    let r = stream_lanes(c);
    let beats = kv.div_ceil(r);
    let nb = kv.div_ceil(BLOCK);
    let p = mac_cycles_per_block(c, head_dim);
    let (le, lq) = (c.exp.timing.latency, c.quantizer.latency);
    let avail = |b: usize| ((BLOCK * (b + 1)).min(kv) - 1) / r + le + lq;
    let start_last = (0..nb)
        .map(|b| avail(b) + (nb - 1 - b) * p)
        .max()
        .unwrap_or(0);
    let scaled_valid = start_last + p - 1 + c.mac.latency;
    let sum_valid = beats - 1 + le + c.reduce.timing.latency;
    let inv_valid = sum_valid + c.recip.latency;
    let s = scaled_valid.max(inv_valid);
    (s + head_dim.div_ceil(c.mul.timing.lanes) - 1 + c.mul.timing.latency + 1) as u64
}

fn bf(x: Bf16) -> Vec<u8> {
    x.0.to_be_bytes().to_vec()
}

/// The MAC array's column sums for one head: the hardware description's accumulator on MXINT8
/// blocks (the dataset's formats), the exact product sum for other formats (docs/numerics.md
/// §8; the doors refuse them with an inexact accumulator).
enum Columns {
    Int8(Vec<Accumulator>),
    Mx(Vec<ProductSum>),
}

impl Columns {
    fn new(f: &Formats, units: &Units, d: usize) -> Columns {
        match f.is_mxint8() {
            true => Columns::Int8((0..d).map(|_| Accumulator::new(&units.mac_acc)).collect()),
            false => Columns::Mx(vec![ProductSum::new(); d]),
        }
    }

    /// Add exp's block times each column's v block (`v` blocks `first..first + d`).
    fn add(&mut self, f: &Formats, exp: &MxBlock, v: &MxData, first: usize) {
        match (self, v.int8()) {
            (Columns::Int8(cols), Some(vt)) => {
                let e = int8_of(exp);
                for (col, acc) in cols.iter_mut().enumerate() {
                    accumulate(acc, &e, &vt.blocks[first + col]);
                }
            }
            (Columns::Mx(cols), _) => {
                for (col, sum) in cols.iter_mut().enumerate() {
                    sum.add(&f.exp, exp, &f.v, &v.block(first + col));
                }
            }
            (Columns::Int8(_), None) => unreachable!("the dataset's formats hold MXINT8 v"),
        }
    }

    /// Every column rounded once to BF16 (nearest-even).
    fn finish(&self) -> Vec<StatusAnd<Bf16>> {
        let mode = RoundingMode::NearestEven;
        match self {
            Columns::Int8(cols) => cols.iter().map(|a| a.finish::<Bf16>(mode)).collect(),
            Columns::Mx(cols) => cols.iter().map(|s| s.round::<Bf16>(mode)).collect(),
        }
    }
}

/// A quantized block as the QUANT probe shows it: its dump word, left-padded to MXINT8's 33
/// bytes (the probe's width for every format).
fn quant_word(f: &Formats, b: &MxBlock) -> Vec<u8> {
    let word = crate::dump::pack_block(b, f.exp.width);
    let mut padded = vec![0u8; 33 - word.len()];
    padded.extend(word);
    padded
}

/// What one cycle's registers show a trace: each unit's output (or progress) this cycle.
struct CycleView<'a> {
    formats: &'a Formats,
    head: usize,
    row: &'a [Bf16],
    received: usize,
    p_blk: usize,
    exp_out: &'a Option<(usize, Vec<StatusAnd<Bf16>>)>,
    sum_out: Option<StatusAnd<Bf16>>,
    quant_out: &'a Option<Vec<(usize, StatusAnd<MxBlock>)>>,
    mac_probe: Option<(usize, usize)>,
    /// scaled_v, in the cycle the MAC array delivers it.
    scaled: Option<&'a Vec<StatusAnd<Bf16>>>,
    inv_new: Option<StatusAnd<Bf16>>,
    mul_out: &'a Option<(usize, Vec<StatusAnd<Bf16>>)>,
}

impl CycleView<'_> {
    /// A unit's probe: index, data bytes and a note for people.
    fn probe(&self, unit: Unit) -> (u32, Vec<u8>, String) {
        let none = |width: usize| (0, vec![0; width], String::new());
        match unit {
            Unit::Exp => self.exp_out.as_ref().map_or(none(2), |(i, v)| {
                let note = format!("e^{} = {}", dec(self.row[*i]), dec(v[0].value));
                (*i as u32, bf(v[0].value), note)
            }),
            Unit::Reduce => match self.sum_out {
                Some(s) => (
                    self.head as u32,
                    bf(s.value),
                    format!("exp_sum = {}", dec(s.value)),
                ),
                None => {
                    let kv = self.row.len();
                    (
                        self.head as u32,
                        vec![0, 0],
                        format!("{}/{kv} received", self.received),
                    )
                }
            },
            Unit::Quant => {
                self.quant_out
                    .as_ref()
                    .and_then(|b| b.last())
                    .map_or(none(33), |(b, blk)| {
                        let note = format!("block {b}: scale 0x{:02x}", blk.value.scale.0);
                        (*b as u32, quant_word(self.formats, &blk.value), note)
                    })
            }
            Unit::Mac => {
                let (index, note) = match self.mac_probe {
                    Some((b, step)) => (b as u32, format!("block {b} pass {step}/{}", self.p_blk)),
                    None => (0, String::new()),
                };
                match self.scaled {
                    Some(sv) => (
                        index,
                        bf(sv[0].value),
                        format!("scaled_v[0] = {}", dec(sv[0].value)),
                    ),
                    None => (index, vec![0, 0], note),
                }
            }
            Unit::Recip => match self.inv_new {
                Some(i) => (
                    self.head as u32,
                    bf(i.value),
                    format!("inv = {}", dec(i.value)),
                ),
                None => (self.head as u32, vec![0, 0], String::new()),
            },
            Unit::Mul => self.mul_out.as_ref().map_or(none(2), |(i, v)| {
                (
                    *i as u32,
                    bf(v[0].value),
                    format!("out[{i}] = {}", dec(v[0].value)),
                )
            }),
        }
    }
}

/// Run the clocked model over every head. With `trace`, probes of the selected cycles go to `sink`.
pub fn simulate(
    inputs: Inputs,
    p: &Params,
    cfg: &HwConfig,
    units: &Units,
    mut trace: Option<(&TraceFilter, &mut dyn TraceSink)>,
) -> std::io::Result<(Stages, CycleReport)> {
    let (h, kv, d) = (inputs.qk_t.shape[1], inputs.kv_size(), inputs.v.shape()[3]);
    let nb = kv.div_ceil(BLOCK);
    let formats = &p.formats;
    // The functional model's quantizer (the vector twin of the definition where there is one).
    let quantizer = Quantizer::best().mx(&formats.exp, formats.rule, p.rounding(&formats.exp));
    let r = stream_lanes(cfg);
    let p_blk = mac_cycles_per_block(cfg, d);
    let mul_lanes = cfg.mul.timing.lanes;
    let mut stats: Vec<UnitStats> = Unit::ALL
        .iter()
        .map(|u| UnitStats {
            unit: u.name(),
            ..Default::default()
        })
        .collect();
    let mut exp_all = Vec::with_capacity(h * kv);
    let mut sums = Vec::with_capacity(h);
    let mut exp_blocks = Vec::with_capacity(h * nb);
    let mut scaled_all = Vec::with_capacity(h * d);
    let mut invs = Vec::with_capacity(h);
    let mut outs = Vec::with_capacity(h * d);
    let mut t0 = 0u64;
    let mut head_len = 0;
    let mut probes: Vec<Probe> = Vec::with_capacity(6);
    for hh in 0..h {
        let row = &inputs.qk_t.data[hh * kv..(hh + 1) * kv];
        // Registers.
        let mut exp_pipe: Delay<(usize, Vec<StatusAnd<Bf16>>)> = Delay::new(cfg.exp.timing.latency);
        let mut issued = 0usize;
        let mut reduce = Accumulator::new(&units.reduce);
        let mut received = 0usize;
        let mut sum_pipe: Delay<StatusAnd<Bf16>> = Delay::new(cfg.reduce.timing.latency);
        let mut qbuf: Vec<Fp32> = Vec::with_capacity(BLOCK);
        let mut quant_pipe: Delay<Vec<(usize, StatusAnd<MxBlock>)>> =
            Delay::new(cfg.quantizer.latency);
        let mut fifo: VecDeque<(usize, StatusAnd<MxBlock>)> = VecDeque::new();
        let mut mac_cur: Option<(usize, StatusAnd<MxBlock>, usize)> = None; // block, exp block, step
        let mut cols = Columns::new(formats, units, d);
        let mut mac_done = 0usize;
        let mut mac_pipe: Delay<()> = Delay::new(cfg.mac.latency);
        let mut recip_pipe: Delay<StatusAnd<Bf16>> = Delay::new(cfg.recip.latency);
        let mut scaled: Option<Vec<StatusAnd<Bf16>>> = None;
        let mut inv: Option<StatusAnd<Bf16>> = None;
        let mut mul_issued = 0usize;
        let mut mul_pipe: Delay<(usize, Vec<StatusAnd<Bf16>>)> = Delay::new(cfg.mul.timing.latency);
        let mut out_row: Vec<StatusAnd<Bf16>> = Vec::with_capacity(d);
        let mut c = 0u64;
        loop {
            let now = t0 + c;
            let tracing = trace.as_ref().is_some_and(|(f, _)| f.cycles.contains(&now));
            probes.clear();
            // EXP: issue a beat of up to r elements; its result leaves the pipe `latency` later.
            let beat = (issued < kv).then(|| {
                let n = r.min(kv - issued);
                let vals: Vec<StatusAnd<Bf16>> = row[issued..issued + n]
                    .iter()
                    .map(|&x| units.exp.eval(x))
                    .collect();
                let b = (issued, vals);
                issued += n;
                b
            });
            let exp_busy = beat.is_some();
            let exp_out = exp_pipe.step(beat);
            // REDUCE and QUANT consume the exp results in index order.
            let mut sum_in = None;
            let mut blocks_done: Vec<(usize, StatusAnd<MxBlock>)> = Vec::new();
            if let Some((_, vals)) = &exp_out {
                for &x in vals {
                    reduce.add(hw_types::Format::value(x.value));
                    received += 1;
                    qbuf.push(x.value.to_fp32());
                    if qbuf.len() == BLOCK || received == kv {
                        let b = (received - 1) / BLOCK;
                        blocks_done.push((b, quantizer.quantize(&qbuf)));
                        qbuf.clear();
                    }
                    exp_all.push(x);
                }
                if received == kv {
                    sum_in = Some(reduce.finish::<Bf16>(RoundingMode::NearestEven));
                }
            }
            let sum_out = sum_pipe.step(sum_in);
            let quant_busy = !blocks_done.is_empty();
            let quant_out = quant_pipe.step((!blocks_done.is_empty()).then_some(blocks_done));
            if let Some(bs) = &quant_out {
                fifo.extend(bs.iter().copied());
                exp_blocks.extend(bs.iter().map(|(_, b)| *b));
            }
            // MAC: one block at a time, p_blk cycles each; the block's sums are committed on its
            // last cycle (column by column in block order, like the functional model).
            if mac_cur.is_none() {
                mac_cur = fifo.pop_front().map(|(b, blk)| (b, blk, 0));
            }
            let mac_probe = mac_cur.map(|(b, _, step)| (b, step));
            let mut mac_last = None;
            if let Some((b, blk, step)) = mac_cur.as_mut() {
                *step += 1;
                if *step == p_blk {
                    cols.add(formats, &blk.value, &inputs.v, (hh * nb + *b) * d);
                    mac_done += 1;
                    mac_last = (mac_done == nb).then_some(());
                    mac_cur = None;
                }
            }
            let scaled_new = mac_pipe.step(mac_last).is_some();
            if scaled_new {
                scaled = Some(cols.finish());
            }
            // RECIP on the sum; its result stays latched for the multiplier.
            let recip_busy = sum_out.is_some();
            let inv_new = recip_pipe.step(sum_out.map(|s| units.recip.eval(s.value)));
            if inv_new.is_some() {
                inv = inv_new;
            }
            // MUL: once scaled_v and inv are both valid, mul_lanes columns a cycle.
            let mul_beat = match (&scaled, inv) {
                (Some(sv), Some(iv)) if mul_issued < d => {
                    let n = mul_lanes.min(d - mul_issued);
                    let vals: Vec<StatusAnd<Bf16>> = sv[mul_issued..mul_issued + n]
                        .iter()
                        .map(|x| units.mul(x.value, iv.value))
                        .collect();
                    let b = (mul_issued, vals);
                    mul_issued += n;
                    Some(b)
                }
                _ => None,
            };
            let mul_busy = mul_beat.is_some();
            let mul_out = mul_pipe.step(mul_beat);
            if let Some((_, vals)) = &mul_out {
                out_row.extend_from_slice(vals);
            }
            // Activity.
            let valid = [
                exp_out.is_some(),
                sum_out.is_some(),
                quant_out.is_some(),
                scaled_new,
                inv_new.is_some(),
                mul_out.is_some(),
            ];
            let busy = [
                exp_busy,
                exp_out.is_some(),
                quant_busy,
                mac_probe.is_some(),
                recip_busy,
                mul_busy,
            ];
            for (i, s) in stats.iter_mut().enumerate() {
                if busy[i] {
                    s.busy_cycles += 1;
                }
                if valid[i] {
                    s.first_valid.get_or_insert(now);
                    s.last_valid = Some(now);
                }
            }
            if tracing {
                let (f, sink) = trace.as_mut().expect("tracing");
                let view = CycleView {
                    formats,
                    head: hh,
                    row,
                    received,
                    p_blk,
                    exp_out: &exp_out,
                    sum_out,
                    quant_out: &quant_out,
                    mac_probe,
                    scaled: scaled.as_ref().filter(|_| scaled_new),
                    inv_new,
                    mul_out: &mul_out,
                };
                for (i, unit) in Unit::ALL.into_iter().enumerate() {
                    if f.units.is_empty() || f.units.contains(&unit) {
                        let (index, data, note) = view.probe(unit);
                        probes.push(Probe {
                            unit,
                            valid: valid[i],
                            busy: busy[i],
                            index,
                            data,
                            note,
                        });
                    }
                }
                sink.cycle(now, &probes)?;
            }
            if scaled_new {
                scaled_all.extend_from_slice(scaled.as_ref().expect("just set"));
            }
            if let Some(i) = inv_new {
                invs.push(i);
            }
            if let Some(s) = sum_out {
                sums.push(s);
            }
            c += 1;
            if out_row.len() == d {
                break;
            }
        }
        outs.extend_from_slice(&out_row);
        head_len = c;
        t0 += c;
    }
    let stages = Stages::assemble(
        inputs,
        formats,
        StageData {
            exp: exp_all,
            exp_sum: sums,
            exp_blocks,
            scaled_v: scaled_all,
            inv: invs,
            out: outs,
        },
    );
    Ok((
        stages,
        CycleReport {
            total_cycles: t0,
            cycles_per_head: head_len,
            units: stats,
        },
    ))
}

/// A BF16 value as a decimal for trace notes.
fn dec(x: Bf16) -> String {
    let v = hw_types::Format::to_f64(x);
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}
