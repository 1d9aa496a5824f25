"""What the train step records with the model for the scoring code: the MLflow model's metadata (`MLmodel` ->
`metadata`) for the scoring script, and the ONNX export the edge module runs.

Standard library only: the scoring image ships this file beside `score.py`, and the edge module's image with it.
"""

# {categorical feature: [categories seen in training]}: the one-hot encoder ignores an unknown category and
# would score it silently, so the scoring script refuses one (422). The ONNX file carries it too (metadata_props).
CATEGORIES = "categories"
# {feature: MLflow column type} of the model's input signature, in the ONNX file's metadata_props (JSON), so the
# edge module applies the scoring script's signature rules without MLflow.
COLUMNS = "columns"

# The ONNX export of the model (skl2onnx), in the train step's model folder and a file of the registered version.
ONNX_FILE = "model.onnx"
# The registered model version's MLflow tag naming the ONNX file: its artifact path relative to the run's artifact
# root (`runs:/<run_id>/<value>`): ONNX_ARTIFACT_PATH, "onnx/model.onnx".
ONNX_TAG = "onnx"
ONNX_ARTIFACT_DIR = "onnx"
ONNX_ARTIFACT_PATH = f"{ONNX_ARTIFACT_DIR}/{ONNX_FILE}"
# The registered model version's tag holding the ONNX file's SHA-256 (64 lowercase hex digits), set by the register
# step from the file it registers: `promote --target edge` writes it into the stack file (modelSha256) and the edge
# module loads the file only if it matches.
ONNX_SHA256_TAG = "onnx_sha256"
