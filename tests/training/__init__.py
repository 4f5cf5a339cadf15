"""sentinet.training: the workflows of ``sentinet train`` as library calls, and word vectors
trained on your own texts."""
