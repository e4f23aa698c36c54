//! The EMR API of the emulator: clusters whose steps really run, one at a time, as
//! local processes (command-runner.jar: Args is the command line), with every change
//! emitted as the EventBridge event AWS would emit.

mod engine;
mod events;
mod model;
pub mod requests;
mod server;

pub use engine::{Cancel, EmrEngine, EngineError, NewStep};
pub use events::EmrEventStream;
pub use server::EmrServer;
