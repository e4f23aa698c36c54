//! ISO 8601 durations, as `CacheConfig.ExpireAfter` takes them: `PT1H`, `P30D`, `P1W`,
//! and the short forms AWS's guide ("Turn on step caching") documents and its notebooks
//! use, with no leading `P` and in either case (`30d`, `5y`, `T16m`, `30dT5h`).

use std::time::Duration;

/// Reads `[P]nYnMnWnDTnHnMnS` (every part optional, at least one present; the `P` may
/// be left out and letters are read in either case, as SageMaker reads them). Years and
/// months count as 365 and 30 days.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("'{text}' is not an ISO 8601 duration (for example PT1H, P30D, 30d or T16m)");
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').unwrap_or(&upper);
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let mut seconds = 0.0;
    let mut parts = 0;
    let mut read = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let scale = units
                .iter()
                .find(|(unit, _)| *unit == c)
                .map(|(_, s)| *s)
                .ok_or_else(bad)?;
            let value: f64 = number.parse().map_err(|_| bad())?;
            seconds += value * scale;
            parts += 1;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(bad())
        }
    };
    const DAY: f64 = 86_400.0;
    read(
        date,
        &[
            ('Y', 365.0 * DAY),
            ('M', 30.0 * DAY),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(time) = time {
        read(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if parts == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_durations_the_sdk_documents() {
        assert_eq!(parse("PT1H").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("P30D").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse("P1W").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(
            parse("P1DT2H30M").unwrap(),
            Duration::from_secs(86_400 + 9000)
        );
        assert_eq!(parse("PT0.5S").unwrap(), Duration::from_millis(500));
    }

    #[test]
    fn reads_the_short_forms_of_aws_guide() {
        const DAY: u64 = 86_400;
        assert_eq!(parse("30d").unwrap(), Duration::from_secs(30 * DAY));
        assert_eq!(parse("5y").unwrap(), Duration::from_secs(5 * 365 * DAY));
        assert_eq!(parse("T16m").unwrap(), Duration::from_secs(16 * 60));
        assert_eq!(
            parse("30dT5h").unwrap(),
            Duration::from_secs(30 * DAY + 5 * 3600)
        );
        assert_eq!(parse("30DT5h").unwrap(), parse("P30DT5H").unwrap());
        assert_eq!(parse("T12H").unwrap(), Duration::from_secs(12 * 3600));
        // Months before the T, minutes after it.
        assert_eq!(parse("P30M").unwrap(), Duration::from_secs(30 * 30 * DAY));
        for bad in [
            "", "1H", "P", "PT", "P1H", "PTxS", "P1DT", "T", "30", "d30", "5x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
