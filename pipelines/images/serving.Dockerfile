# The serving image the online deployments run (stack config serving.environmentImage, e.g. mlops-serving:1):
# pipelines/score.py on the Azure ML inference server, listening on 5001 (the environment's inference routes).
# Build and push into the stack's registry, from the repository root:
#   az acr build --registry <registryLoginServer without .azurecr.io> --image mlops-serving:1 \
#       --file pipelines/images/serving.Dockerfile .
FROM python:3.11-slim
WORKDIR /app
COPY pipelines/images/serving-requirements.txt .
RUN pip install --no-cache-dir -r serving-requirements.txt
COPY pipelines/score.py /app/score.py
ENV AZUREML_ENTRY_SCRIPT=/app/score.py
EXPOSE 5001
CMD ["azmlinfsrv", "--entry_script", "/app/score.py", "--port", "5001"]
