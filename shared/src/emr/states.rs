use std::fmt;

macro_rules! emr_states {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )+
            /// A state this code does not know yet; kept as EMR spelled it.
            Other(String),
        }

        impl $name {
            /// The state EMR spells `text`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The state as EMR spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

emr_states!(
    /// The state of an EMR step.
    StepState {
        Pending = "PENDING",
        CancelPending = "CANCEL_PENDING",
        Running = "RUNNING",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
        Failed = "FAILED",
        Interrupted = "INTERRUPTED",
    }
);

emr_states!(
    /// The state of an EMR cluster.
    ClusterState {
        Starting = "STARTING",
        Bootstrapping = "BOOTSTRAPPING",
        Running = "RUNNING",
        Waiting = "WAITING",
        Terminating = "TERMINATING",
        Terminated = "TERMINATED",
        TerminatedWithErrors = "TERMINATED_WITH_ERRORS",
    }
);

impl StepState {
    /// The states a step ends in.
    pub const ENDED: [StepState; 4] = [
        Self::Completed,
        Self::Cancelled,
        Self::Failed,
        Self::Interrupted,
    ];

    /// The step will not run again: its outcome can be reported.
    pub fn has_ended(&self) -> bool {
        Self::ENDED.contains(self)
    }

    /// The step ended without completing.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Failed | Self::Interrupted)
    }
}

impl ClusterState {
    /// The states in which a cluster takes new steps.
    pub const ACCEPTING_STEPS: [ClusterState; 4] = [
        Self::Starting,
        Self::Bootstrapping,
        Self::Running,
        Self::Waiting,
    ];

    /// Whether the cluster takes new steps.
    pub fn accepts_steps(&self) -> bool {
        Self::ACCEPTING_STEPS.contains(self)
    }

    /// Whether the cluster ended.
    pub fn is_terminated(&self) -> bool {
        matches!(self, Self::Terminated | Self::TerminatedWithErrors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_ones_are_kept() {
        for text in [
            "PENDING",
            "CANCEL_PENDING",
            "RUNNING",
            "COMPLETED",
            "CANCELLED",
            "FAILED",
            "INTERRUPTED",
        ] {
            assert_eq!(StepState::parse(text).as_str(), text);
        }
        assert_eq!(
            StepState::parse("PAUSED"),
            StepState::Other("PAUSED".into())
        );
        assert!(StepState::Failed.has_ended() && StepState::Failed.is_failure());
        assert!(!StepState::Running.has_ended());
        assert!(ClusterState::parse("WAITING").accepts_steps());
        assert!(!ClusterState::parse("TERMINATING").accepts_steps());
        assert!(ClusterState::parse("TERMINATED_WITH_ERRORS").is_terminated());
    }
}
