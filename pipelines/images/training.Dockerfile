# The training image the Azure ML jobs run in (pipelines/steps TRAINING_IMAGE, mlops/training:latest in the stack's
# registry): the pipeline's command components, whose code is uploaded with each job (it comes first on the path),
# and the scheduled monitor (pipelines/monitor.py), whose job an Azure ML schedule defines without any upload, so its
# code is copied in below. Build and push from the repository root:
#   az acr build --registry <registry name> --image mlops/training:latest --file pipelines/images/training.Dockerfile .
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
# Jobs on a compute cluster get MLFLOW_TRACKING_URI=azureml://... set for them; MLflow resolves that scheme only
# with the azureml-mlflow plugin ("Configure MLflow for Azure Machine Learning", prerequisites: pip install mlflow
# azureml-mlflow; learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-configure-tracking). Local runs do
# not need it, so it is in the image only, and in the same resolve as the requirements: it caps mlflow-skinny
# (<=3.15 in azureml-mlflow 1.62), and a second install would leave mlflow and mlflow-skinny at different versions.
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir -r requirements.txt "azureml-mlflow>=1.60"
# The monitor's code (python -m pipelines.monitor): the pipelines package and the few neutral modules it imports.
COPY pipelines/ /app/pipelines/
COPY stacks/__init__.py core/sections.py /app/stacks/
COPY mlops/__init__.py core/errors.py core/paths.py /app/mlops/
ENV PYTHONPATH=/app
