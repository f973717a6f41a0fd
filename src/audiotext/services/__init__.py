"""Services: the operations the entry points call, over the backends."""
