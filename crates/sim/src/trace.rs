//! Trace sinks of the cycle model: a readable per-cycle table and a VCD waveform (the `vcd`
//! crate), both streamed so memory stays bounded however many cycles are traced.

use crate::cycle::{Probe, TraceSink, Unit};
use std::io::Write;

/// Rows for the units that are valid or busy in a cycle: cycle, unit, valid, busy, index, data
/// (hex) and the decoded note.
pub struct TableSink<W: Write> {
    out: W,
    header: bool,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> Self {
        TableSink { out, header: false }
    }

    /// Flush and hand back the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> TraceSink for TableSink<W> {
    fn cycle(&mut self, cycle: u64, probes: &[Probe]) -> std::io::Result<()> {
        if !self.header {
            writeln!(
                self.out,
                "{:>8}  {:<6} {:>1} {:>1} {:>6}  {:<18} note",
                "cycle", "unit", "v", "b", "index", "data"
            )?;
            self.header = true;
        }
        for p in probes.iter().filter(|p| p.valid || p.busy) {
            let hex = crate::dump::hex_digest(&p.data);
            let shown = if hex.len() > 18 {
                format!("{}..{}", &hex[..8], &hex[hex.len() - 8..])
            } else {
                hex
            };
            writeln!(
                self.out,
                "{cycle:>8}  {:<6} {:>1} {:>1} {:>6}  {:<18} {}",
                p.unit.name(),
                p.valid as u8,
                p.busy as u8,
                p.index,
                shown,
                p.note
            )?;
        }
        Ok(())
    }
}

/// A VCD with one scope per unit holding `valid`, `busy`, `index[31:0]` and `data[w-1:0]`;
/// one timestamp per cycle, value changes only.
pub struct VcdSink<W: Write> {
    w: vcd::Writer<W>,
    ids: Vec<(Unit, [vcd::IdCode; 4])>,
    last: Vec<Option<Sample>>,
}

/// One unit's signal values in a cycle: valid, busy, index, data.
type Sample = (bool, bool, u32, Vec<u8>);

impl<W: Write> VcdSink<W> {
    pub fn new(out: W, units: &[Unit]) -> std::io::Result<Self> {
        let mut w = vcd::Writer::new(out);
        w.timescale(1, vcd::TimescaleUnit::NS)?;
        w.add_module("softmax_v")?;
        let mut ids = Vec::new();
        for &u in units {
            w.add_module(u.name())?;
            let v = w.add_wire(1, "valid")?;
            let b = w.add_wire(1, "busy")?;
            let i = w.add_wire(32, "index")?;
            let d = w.add_wire(u.data_bits() as u32, "data")?;
            w.upscope()?;
            ids.push((u, [v, b, i, d]));
        }
        w.upscope()?;
        w.enddefinitions()?;
        let n = ids.len();
        Ok(VcdSink {
            w,
            ids,
            last: vec![None; n],
        })
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

fn bits(bytes: &[u8], width: usize) -> Vec<vcd::Value> {
    (0..width)
        .rev()
        .map(|i| {
            let byte = bytes[bytes.len() - 1 - i / 8];
            if byte >> (i % 8) & 1 == 1 {
                vcd::Value::V1
            } else {
                vcd::Value::V0
            }
        })
        .collect()
}

impl<W: Write> TraceSink for VcdSink<W> {
    fn cycle(&mut self, cycle: u64, probes: &[Probe]) -> std::io::Result<()> {
        self.w.timestamp(cycle)?;
        for (k, (unit, id)) in self.ids.iter().enumerate() {
            let Some(p) = probes.iter().find(|p| p.unit == *unit) else {
                continue;
            };
            let now: Sample = (p.valid, p.busy, p.index, p.data.clone());
            let prev = self.last[k].take();
            let first = prev.is_none();
            let prev = prev.unwrap_or_else(|| now.clone());
            if first || prev.0 != now.0 {
                self.w.change_scalar(id[0], now.0)?;
            }
            if first || prev.1 != now.1 {
                self.w.change_scalar(id[1], now.1)?;
            }
            if first || prev.2 != now.2 {
                self.w
                    .change_vector(id[2], bits(&now.2.to_be_bytes(), 32))?;
            }
            if first || prev.3 != now.3 {
                self.w
                    .change_vector(id[3], bits(&now.3, unit.data_bits()))?;
            }
            self.last[k] = Some(now);
        }
        Ok(())
    }
}
