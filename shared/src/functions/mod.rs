//! The functions the lambda-step handler serves.

mod emr_preflight;
mod flatten_json;

pub use emr_preflight::emr_preflight;
pub use flatten_json::flatten_json;
