"""The training loop, its setup, objective, optimiser, checkpoints, events and subscribers, and --seeds/--folds groups."""
