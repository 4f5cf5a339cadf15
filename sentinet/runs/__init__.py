"""What a run leaves on disk: the run-directory layout, weights, archives, ONNX graphs, provenance, train.log."""
