//! A unit's table as the RTL loads it: `$readmemh` words and a JSON description that states
//! everything needed to size the ROM and use its contents (`sim export-lut`).

/// The contents of a ROM and its description.
#[derive(Clone, Debug, PartialEq)]
pub struct Rom {
    pub words: Vec<u64>,
    /// Width of a word: every word is below `2^word_bits`.
    pub word_bits: u32,
    /// `unit`, `kind`, `entries`, `word_bits`, `hex_digits`, the bit fields of a word, how the
    /// index is formed and how an entry turns into the unit's result.
    pub description: serde_json::Value,
}

impl Rom {
    /// A ROM of `word_bits`-bit words; the description gains `entries`, `word_bits` and
    /// `hex_digits`.
    ///
    /// # Panics
    /// When a word does not fit `word_bits` (a unit's table generator is wrong).
    pub fn new(words: Vec<u64>, word_bits: u32, mut description: serde_json::Value) -> Rom {
        assert!(
            word_bits < 64 && words.iter().all(|&w| w >> word_bits == 0),
            "a ROM word does not fit its declared {word_bits} bits"
        );
        description["entries"] = words.len().into();
        description["word_bits"] = word_bits.into();
        description["hex_digits"] = word_bits.div_ceil(4).into();
        Rom {
            words,
            word_bits,
            description,
        }
    }

    /// Hex digits of one `$readmemh` line.
    pub fn hex_digits(&self) -> usize {
        self.word_bits.div_ceil(4) as usize
    }

    /// The `$readmemh` text: one zero-padded lowercase hex word per line.
    pub fn hex(&self) -> String {
        let d = self.hex_digits();
        self.words.iter().map(|w| format!("{w:0d$x}\n")).collect()
    }
}
