"""boxwright's box wing."""
