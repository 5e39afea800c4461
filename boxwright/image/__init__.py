"""boxwright's image wing."""
