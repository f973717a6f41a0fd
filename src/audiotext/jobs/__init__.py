"""The job vocabulary: states, allowed transitions and typed errors (pure, no I/O)."""
