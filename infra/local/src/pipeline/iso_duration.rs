//! ISO 8601 durations, as `CacheConfig.ExpireAfter` takes them (`PT1H`, `P30D`, `P1W`).

use std::time::Duration;

/// Reads `PnYnMnWnDTnHnMnS` (every part optional, at least one present). Years and
/// months count as 365 and 30 days.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not an ISO 8601 duration (for example PT1H or P30D)");
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
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
        for bad in ["", "1H", "P", "PT", "P1H", "PTxS", "P1DT"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
