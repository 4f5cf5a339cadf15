"""The process a command runs in: device, CPU threads, signals."""
