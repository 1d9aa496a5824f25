#!/usr/bin/env bash
# Registers one ephemeral runner with GitHub, runs one job, exits (the Container Apps job starts one per queued job).
# The environment comes from components/runners.py:
#   GH_URL                      the repository the runner serves
#   REGISTRATION_TOKEN_API_URL  .../actions/runners/registration-token of that repository
#   GITHUB_PAT                  a fine-grained token (Administration: write) from Key Vault; used once, here
#   RUNNER_LABELS               mlops-<env>: workflows pick this environment's runners with it
#   AZURE_CLIENT_ID             the job's managed identity, for `az login --identity --client-id` in workflows
# RUNNER_HOME (default /home/runner, the base image's runner) lets the tests run this script against a stand-in
# runner and a local registration endpoint; the image itself is not built or run here (see the Dockerfile).
set -euo pipefail

for name in GH_URL REGISTRATION_TOKEN_API_URL GITHUB_PAT RUNNER_LABELS; do
    if [ -z "${!name:-}" ]; then
        echo "entrypoint: $name is not set" >&2
        exit 2
    fi
done

# A registration token lives one hour; the PAT never reaches the runner's jobs.
registration_token="$(
    curl --fail --silent --show-error --request POST \
        --header "Accept: application/vnd.github+json" \
        --header "Authorization: Bearer ${GITHUB_PAT}" \
        --header "X-GitHub-Api-Version: 2022-11-28" \
        "${REGISTRATION_TOKEN_API_URL}" | jq -r '.token'
)"
unset GITHUB_PAT
if [ -z "$registration_token" ] || [ "$registration_token" = "null" ]; then
    echo "entrypoint: GitHub returned no registration token (check the PAT's permissions)" >&2
    exit 1
fi

cd "${RUNNER_HOME:-/home/runner}"
./config.sh --unattended --ephemeral --replace \
    --url "$GH_URL" \
    --token "$registration_token" \
    --labels "$RUNNER_LABELS" \
    --name "${RUNNER_LABELS}-$(hostname)" \
    --work _work
unset registration_token REGISTRATION_TOKEN_API_URL
exec ./run.sh
