//! `--shard I/N` and `--shard auto/N`: which share of a sweep this process takes.
//!
//! With `auto`, I comes from the array task the scheduler started this process as. N never does:
//! a resubmitted subset of an array (Slurm `--array=7` after `--array=0-7`) sees its own task
//! count and minimum, so a shard computed from them would be another sweep's.

use crate::sweep::Shard;

/// The variables `auto` reads, in this order, with the number of their first array task.
pub const ARRAY_VARS: [(&str, usize); 3] = [
    ("SLURM_ARRAY_TASK_ID", 0),
    ("LSB_JOBINDEX", 1),
    ("SGE_TASK_ID", 1),
];

/// A parsed `--shard` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    /// `auto/N`: I from the scheduler's array task id.
    Auto {
        count: usize,
    },
}

impl std::str::FromStr for ShardArg {
    type Err = String;
    fn from_str(s: &str) -> Result<ShardArg, String> {
        match s.split_once('/') {
            Some((i, n)) if i.trim() == "auto" => match n.trim().parse::<usize>() {
                Ok(count) if count > 0 => Ok(ShardArg::Auto { count }),
                _ => Err(format!(
                    "'{s}': N of auto/N must be a whole number of at least 1"
                )),
            },
            _ => s
                .parse::<Shard>()
                .map(ShardArg::Fixed)
                .map_err(|e| format!("{e}, or auto/N")),
        }
    }
}

impl ShardArg {
    /// The shard, reading the array task id from `var` (the environment, or a test's map).
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let count = match self {
            ShardArg::Fixed(s) => return Ok(s),
            ShardArg::Auto { count } => count,
        };
        let names = ARRAY_VARS.map(|(n, _)| n).join(", ");
        let Some((name, first, value)) = ARRAY_VARS
            .iter()
            .find_map(|&(n, first)| var(n).map(|v| (n, first, v)))
        else {
            return Err(format!(
                "--shard auto/{count}: none of {names} is set (not an array task of Slurm, LSF \
                 or SGE); give the shard as I/{count}"
            ));
        };
        let last = first + count - 1;
        let expect = format!("{name} numbers the tasks of --shard auto/{count} {first}..={last}");
        match value.trim().parse::<usize>() {
            Ok(id) if (first..=last).contains(&id) => Ok(Shard {
                index: id - first,
                count,
            }),
            Ok(_) => Err(format!("{name}={value} is outside the array: {expect}")),
            Err(_) => Err(format!(
                "{name}={value} is not an array task number (is this an array job?): {expect}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| pairs.iter().find(|p| p.0 == n).map(|p| p.1.to_string())
    }

    fn auto(n: usize, pairs: &[(&str, &str)]) -> Result<Shard, String> {
        ShardArg::Auto { count: n }.resolve(env(pairs))
    }

    #[test]
    fn parses_fixed_and_auto() {
        assert_eq!("auto/8".parse(), Ok(ShardArg::Auto { count: 8 }));
        assert_eq!(
            "3/8".parse(),
            Ok(ShardArg::Fixed(Shard { index: 3, count: 8 }))
        );
        for bad in ["auto/0", "auto/x", "auto", "8/8", "auto/-1"] {
            assert!(bad.parse::<ShardArg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_counts_from_zero_lsf_and_sge_from_one() {
        let s = |index| Ok(Shard { index, count: 8 });
        assert_eq!(auto(8, &[("SLURM_ARRAY_TASK_ID", "7")]), s(7));
        assert_eq!(auto(8, &[("SLURM_ARRAY_TASK_ID", "0")]), s(0));
        assert_eq!(auto(8, &[("LSB_JOBINDEX", "1")]), s(0));
        assert_eq!(auto(8, &[("SGE_TASK_ID", "8")]), s(7));
        // Slurm's variable wins over the others; the task count variables are never read.
        let both = [
            ("SGE_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
        ];
        assert_eq!(auto(8, &both), s(5));
    }

    #[test]
    fn errors_name_the_variables_and_the_range() {
        let e = auto(8, &[]).unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID, LSB_JOBINDEX, SGE_TASK_ID"),
            "{e}"
        );
        let e = auto(8, &[("SLURM_ARRAY_TASK_ID", "8")]).unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID=8 is outside") && e.contains("0..=7"),
            "{e}"
        );
        let e = auto(8, &[("LSB_JOBINDEX", "0")]).unwrap_err();
        assert!(e.contains("LSB_JOBINDEX=0") && e.contains("1..=8"), "{e}");
        let e = auto(8, &[("SGE_TASK_ID", "undefined")]).unwrap_err();
        assert!(e.contains("not an array task number"), "{e}");
        let fixed = ShardArg::Fixed(Shard { index: 1, count: 2 });
        assert_eq!(fixed.resolve(env(&[])), Ok(Shard { index: 1, count: 2 }));
    }
}
