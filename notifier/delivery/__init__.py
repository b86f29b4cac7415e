"""Delivery: planning the outbox, sending what is due, recording every attempt."""
