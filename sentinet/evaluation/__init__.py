"""Scores: metrics (macro-F1 and friends), the decision rule over probabilities, class prevalence."""
