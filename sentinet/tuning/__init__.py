"""Hyperparameter search with Optuna: the study, its search space, storage, state and tables."""
