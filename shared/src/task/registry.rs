use std::sync::Arc;

use serde_json::Value;

use super::CallbackTask;
use crate::callback::CallbackMessage;
use crate::fields::kind_of;

/// The tasks a handler offers, and the one used when a message names none.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    tasks: Vec<Arc<dyn CallbackTask>>,
    default_task: Option<String>,
}

impl TaskRegistry {
    /// No tasks yet; `default_task` serves messages without a `task` argument.
    pub fn new(default_task: Option<String>) -> Self {
        Self {
            tasks: Vec::new(),
            default_task,
        }
    }

    /// Adds a task.
    pub fn with(mut self, task: impl CallbackTask + 'static) -> Self {
        self.tasks.push(Arc::new(task));
        self
    }

    /// The names of every task, for errors.
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|t| t.name()).collect()
    }

    /// The task for a message, or a reason to fail the step with.
    pub fn select(&self, message: &CallbackMessage) -> Result<Arc<dyn CallbackTask>, String> {
        let known = self.names().join(", ");
        let name = match message.arguments.get("task") {
            Some(Value::String(name)) => name.as_str(),
            None | Some(Value::Null) => match &self.default_task {
                Some(name) => name.as_str(),
                None => {
                    return Err(format!(
                    "no task: set argument 'task' (one of: {known}) or the handler's DEFAULT_TASK"
                ))
                }
            },
            Some(other) => {
                return Err(format!(
                    "argument 'task' must be a string, got {}; tasks: {known}",
                    kind_of(other)
                ))
            }
        };
        self.tasks
            .iter()
            .find(|t| t.name() == name)
            .cloned()
            .ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                format!("unknown task '{shown}'; tasks: {known}")
            })
    }
}
