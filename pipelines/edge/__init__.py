"""The edge scoring module: the registered model's ONNX export scored next to the machines on IoT Edge devices.

`model.py` runs the export with ONNX Runtime; `module.py` is the module's logic without a device (messages in,
predictions out, counters, the module twin's desired and reported properties); `main.py` is the thin wire to the
IoT Edge hub (`azure-iot-device`). The image (`Dockerfile`, `requirements.txt` beside this file) holds no MLflow,
scikit-learn or pandas.
"""
