"""Sources of desired state: member lists, suppressions and resubscribe opt-ins (CSV or inline)."""
