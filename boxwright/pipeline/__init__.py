"""boxwright's pipeline wing."""
