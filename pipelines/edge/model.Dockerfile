# The edge model image: one registered model version's ONNX file, delivered into the models volume the scoring module
# reads (components/edge_manifest.py, module `model`). One image per version: <registry>/mlops/edge-model/<name>:<version>.
# No RUN step, so a multi-arch build needs no emulation; busybox (the pinned tag is published for linux/amd64 and
# linux/arm64, among others) gives the shell and the applets deliver-model.sh uses. The build context is a folder with
# the version's model.onnx (its SHA-256 checked against the version's onnx_sha256 tag first) and deliver-model.sh;
# the train workflow builds it (.github/workflows/train.yml, job edge-model-image):
#   docker buildx build --platform linux/amd64,linux/arm64 --file pipelines/edge/model.Dockerfile \
#     --build-arg MODEL_SHA256=<sha256> --tag <registry>.azurecr.io/mlops/edge-model/<name>:<version> --push <context>
FROM busybox:1.36.1
COPY model.onnx /model/model.onnx
COPY deliver-model.sh /deliver-model.sh
ARG MODEL_SHA256=unknown
LABEL org.opencontainers.image.description="mlops edge model: /model/model.onnx, sha256 ${MODEL_SHA256}"
ENV MODEL_SOURCE=/model/model.onnx
CMD ["/bin/sh", "/deliver-model.sh"]
