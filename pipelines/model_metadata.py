"""What the train step records in the MLflow model's metadata (`MLmodel` -> `metadata`) for the scoring script.

Standard library only: the scoring image ships this file beside `score.py`.
"""

# {categorical feature: [categories seen in training]}: the one-hot encoder ignores an unknown category and
# would score it silently, so the scoring script refuses one (422).
CATEGORIES = "categories"

# The MLflow model-version tag of a version that has an ONNX artifact (value: the artifact's path in the version):
# what the edge scoring module runs; `mlops promote --target edge` refuses a version without it.
ONNX_TAG = "onnx"
