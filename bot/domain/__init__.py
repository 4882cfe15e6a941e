"""Pure rules of the procedure: no I/O, no clock; `now` is always an argument."""
