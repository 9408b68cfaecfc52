"""`tinyrnn import`: a recurrent model trained elsewhere (Keras, PyTorch, ONNX) into an artifact directory.

Each source module reads its framework's file with the framework's own loader, refuses in one line what the
kernel cannot run, and hands back an `ImportedModel` (imported.py): the weights in weights.npz's layout and the
framework's own outputs at every step, the float reference. pipeline.py writes the artifact directory with the
training pipeline's later stages (int8 TFLite, kernel export, report).
"""
