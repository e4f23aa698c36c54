//! List operations as the service pages them: `SortOrder`, `MaxResults` (1 to 100)
//! and an opaque `NextToken` that only this endpoint reads back.

use serde_json::{json, Value};

use crate::aws_json::AwsError;

const MAX_RESULTS: u64 = 100;
const TOKEN_PREFIX: &str = "page-from-";

/// Whether the request asks for ascending order (the default is descending).
pub fn ascending(request: &Value) -> Result<bool, AwsError> {
    match request.get("SortOrder").and_then(Value::as_str) {
        None | Some("Descending") => Ok(false),
        Some("Ascending") => Ok(true),
        Some(other) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [Ascending, Descending]"
        ))),
    }
}

/// A time filter member (`CreatedAfter`, `CreatedBefore`) as epoch seconds.
pub fn time_filter(request: &Value, member: &str) -> Option<f64> {
    request.get(member).and_then(Value::as_f64)
}

/// One page of `items` (already filtered and sorted), answered under `member`.
pub fn page(items: Vec<Value>, request: &Value, member: &str) -> Result<Value, AwsError> {
    let max = match request.get("MaxResults") {
        None | Some(Value::Null) => MAX_RESULTS,
        Some(value) => value.as_u64().filter(|n| (1..=MAX_RESULTS).contains(n)).ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_RESULTS}"
            ))
        })?,
    } as usize;
    let start = match request.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| AwsError::validation(format!("Invalid pagination token {token}")))?,
    };
    let end = (start + max).min(items.len());
    let mut answer = json!({ member: items[start..end].to_vec() });
    if end < items.len() {
        answer["NextToken"] = json!(format!("{TOKEN_PREFIX}{end}"));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_next_token_to_the_end() {
        let items: Vec<Value> = (0..5).map(|n| json!(n)).collect();
        let first = page(items.clone(), &json!({"MaxResults": 2}), "Items").unwrap();
        assert_eq!(first["Items"], json!([0, 1]));
        let token = first["NextToken"].clone();
        let second = page(
            items.clone(),
            &json!({"MaxResults": 2, "NextToken": token}),
            "Items",
        )
        .unwrap();
        assert_eq!(second["Items"], json!([2, 3]));
        let last = page(
            items.clone(),
            &json!({"MaxResults": 2, "NextToken": second["NextToken"]}),
            "Items",
        )
        .unwrap();
        assert_eq!(last["Items"], json!([4]));
        assert!(last.get("NextToken").is_none());
        assert_eq!(
            page(items.clone(), &json!({}), "Items").unwrap()["Items"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            page(items.clone(), &json!({"MaxResults": 0}), "Items")
                .unwrap_err()
                .code,
            "ValidationException"
        );
        assert!(page(items, &json!({"NextToken": "forged"}), "Items")
            .unwrap_err()
            .message
            .contains("Invalid pagination token"));
        assert!(ascending(&json!({"SortOrder": "Ascending"})).unwrap());
        assert!(!ascending(&json!({})).unwrap());
        assert!(ascending(&json!({"SortOrder": "Up"})).is_err());
    }
}
