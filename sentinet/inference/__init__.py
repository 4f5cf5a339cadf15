"""Everything that predicts: the predictor interface, the one opener, the run predictor, explanations, output writers."""
