//! The results file: the JSON contract shared with the JS suite and the
//! report writer (see README.md).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use keel_native::types::Timestamp;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report {
    pub suite: &'static str,
    pub started_at: String,
    pub command: String,
    pub versions: BTreeMap<String, String>,
    pub repeats: usize,
    pub workloads: Vec<Workload>,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone, Serialize)]
pub enum Target {
    #[serde(rename = "max_ratio")]
    MaxRatio(f64),
    #[serde(rename = "min_ratio")]
    MinRatio(f64),
}

#[derive(Debug, Serialize)]
pub struct Workload {
    pub group: &'static str,
    pub name: String,
    pub param: String,
    pub unit: &'static str,
    pub better: Better,
    pub baseline: Option<&'static str>,
    pub target: Option<Target>,
    pub medians: BTreeMap<String, f64>,
    pub samples: BTreeMap<String, Vec<f64>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Workload {
    pub fn new(
        group: &'static str,
        name: &str,
        param: String,
        unit: &'static str,
        better: Better,
    ) -> Self {
        Workload {
            group,
            name: name.to_owned(),
            param,
            unit,
            better,
            baseline: None,
            target: None,
            medians: BTreeMap::new(),
            samples: BTreeMap::new(),
            note: String::new(),
        }
    }

    pub fn against(mut self, baseline: &'static str, target: Target) -> Self {
        self.baseline = Some(baseline);
        self.target = Some(target);
        self
    }

    pub fn sample(&mut self, contender: &str, value: f64) {
        // Three decimals are below any unit's noise here.
        let value = (value * 1000.0).round() / 1000.0;
        self.samples
            .entry(contender.to_owned())
            .or_default()
            .push(value);
    }

    /// Fills `medians` from `samples`; call once all repeats are in.
    pub fn finish(mut self) -> Self {
        self.medians = self
            .samples
            .iter()
            .filter_map(|(name, values)| median(values).map(|m| (name.clone(), m)))
            .collect();
        self
    }

    /// One line for the console while the suite runs.
    pub fn summary(&self) -> String {
        let mut line = format!("{} / {} {}:", self.group, self.name, self.param);
        for (name, value) in &self.medians {
            line.push_str(&format!("  {name} {value:.2} {}", self.unit));
        }
        line
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`, formatted by keel's own
/// `Timestamp` (whole seconds, so no fraction is printed).
pub fn utc_now() -> String {
    /// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
    const PG_EPOCH: i64 = 946_684_800;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    Timestamp::from_micros((secs - PG_EPOCH) * 1_000_000).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn timestamp_has_the_contract_shape() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
