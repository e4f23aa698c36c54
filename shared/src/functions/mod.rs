//! The functions the lambda-step handler serves.

mod flatten_json;

pub use flatten_json::flatten_json;
