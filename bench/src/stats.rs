//! Medians and the printed table.

use std::time::Duration;

pub fn median<T: Ord + Copy>(mut samples: Vec<T>) -> T {
    samples.sort();
    samples[samples.len() / 2]
}

/// The median of `samples`, when there are any.
pub fn median_of_any<T: Ord + Copy>(samples: Vec<T>) -> Option<T> {
    (!samples.is_empty()).then(|| median(samples))
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One line of the report: the figure, what was measured, the budget, and the verdict.
pub fn row(figure: &str, measured: String, budget: String, met: bool) {
    println!(
        "{:<52} {:>28}   budget {:<22} {}",
        figure,
        measured,
        budget,
        if met { "MET" } else { "MISSED" }
    );
}
