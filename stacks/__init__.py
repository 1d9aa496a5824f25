"""Stack configuration, the composition of components per environment, and the stack-outputs contract."""
