"""The artifact directory's one owner: open and check it, its typed manifest, test split, kernel files, C
directory and board runs, and how they are written. Its format is documented in docs/artifacts.md."""
from tinyrnn.quantize.artifact.board_run import (RESULTS_NAME, BitExactness, BoardRun, FirmwareSize, Latency, Stats,
                                                 Verdict)
from tinyrnn.quantize.artifact.directory import (INT8_TFLITE_NAME, KERAS_MODEL_NAME, MANIFEST_NAME, METRICS_NAME,
                                                 STEP_MODEL_NAME, TEST_SPLIT_NAME, WEIGHTS_NAME, Artifact,
                                                 KernelFiles, TestSplit, board_run_dir, board_runs, kernel_files,
                                                 read_metrics)
from tinyrnn.quantize.artifact.manifest import FORMAT_VERSION, Manifest

__all__ = ["Artifact", "BitExactness", "BoardRun", "FirmwareSize", "FORMAT_VERSION", "INT8_TFLITE_NAME",
           "KERAS_MODEL_NAME", "KernelFiles", "Latency", "MANIFEST_NAME", "Manifest", "METRICS_NAME", "RESULTS_NAME",
           "Stats", "STEP_MODEL_NAME", "TEST_SPLIT_NAME", "TestSplit", "Verdict", "WEIGHTS_NAME", "board_run_dir",
           "board_runs", "kernel_files", "read_metrics"]
