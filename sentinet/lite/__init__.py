"""The light engine: an export's networks in numpy, so ``sentinet predict ARCHIVE`` answers
without importing torch (a second or more of every start).

``sentinet export`` writes ``lite.npz`` (the embedding rows as the model reads them, the
encoder's and head's weights under their state-dict names) and ``lite.json`` (what they are)
beside each run's ``model.pt`` when this package can express the model (sentinet.lite.files);
sentinet.inference.lite labels text with them. Nothing here imports torch: the formulas are
torch's own (gate order, padding, pooling), and export checks the two agree before it writes.
"""
