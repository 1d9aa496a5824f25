#!/bin/sh
# The edge model module's command (pipelines/edge/model.Dockerfile): copy the image's ONNX file into the shared models
# volume at $MODEL_TARGET (the deployment manifest sets it: /models/<name>/<version>/model.onnx), then wait, so
# edgeAgent (restartPolicy: always) keeps the module running. The copy is written beside the target and renamed over
# it, so the scorer never reads half a file; an identical file is left alone, so a restart rewrites nothing.
# POSIX sh and the busybox applets only (cmp, cp, mkdir, mv, chmod, dirname, sleep).
set -eu
source="${MODEL_SOURCE:-/model/model.onnx}"
target="${MODEL_TARGET:?MODEL_TARGET is not set (the deployment manifest sets it)}"
case "$target" in
  /*.onnx) ;;
  *) echo "{\"event\": \"model_not_delivered\", \"reason\": \"MODEL_TARGET must be an absolute path to a .onnx file\"}"; exit 2 ;;
esac
mkdir -p "$(dirname "$target")"
if ! cmp -s "$source" "$target"; then
  cp "$source" "$target.partial.$$"
  chmod 0644 "$target.partial.$$"
  mv -f "$target.partial.$$" "$target"
fi
echo "{\"event\": \"model_delivered\", \"target\": \"$target\"}"
if [ -n "${MODEL_DELIVER_ONCE:-}" ]; then
  exit 0  # tests: deliver and stop
fi
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $!
done
