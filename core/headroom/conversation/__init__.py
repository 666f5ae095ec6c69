"""Conversation-level stages: cache alignment, context fitting, provider cache hints, prefix freezing."""
