"""Deterministic fakes of the outer services Vigil talks to but does not own."""
