# The serving image the online deployments run (stack config serving.environmentImage, e.g. mlops-serving:1):
# pipelines/score.py on the Azure ML inference server, listening on 5001 (the environment's inference routes).
# Build and push into the stack's registry, from the repository root:
#   az acr build --registry <registryLoginServer without .azurecr.io> --image mlops-serving:1 \
#       --file pipelines/images/serving.Dockerfile .
FROM python:3.11-slim
WORKDIR /app
COPY pipelines/images/serving-requirements.txt .
RUN pip install --no-cache-dir -r serving-requirements.txt
# score.py imports these two standard-library modules of the pipelines package (request limits, model metadata)
COPY pipelines/__init__.py pipelines/json_limits.py pipelines/model_metadata.py /app/pipelines/
COPY pipelines/score.py /app/score.py
ENV AZUREML_ENTRY_SCRIPT=/app/score.py PYTHONPATH=/app
# gunicorn's threaded workers and a short worker timeout, as `mlops serve` runs it (mlops/commands/serve.py SERVER_ENV)
ENV GUNICORN_CMD_ARGS="--worker-class gthread --threads 8" WORKER_TIMEOUT=30
EXPOSE 5001
CMD ["azmlinfsrv", "--entry_script", "/app/score.py", "--port", "5001"]
